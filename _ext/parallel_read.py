"""Let Sphinx read the pages in parallel, so that the notebooks execute several at a time.

Sphinx reads in parallel only when every extension declares itself safe for it. Of the extensions the
book loads, one does not declare anything: ``sphinx_multitoc_numbering`` (jupyter-book's continuous
section numbers across the parts of ``_toc.yml``). It replaces one method,
``TocTreeCollector.assign_section_numbers``, which Sphinx calls in the main process after it has merged
every reader's table of contents (``env.tocs``), and it keeps no state of its own between documents: it
is safe to read in parallel, and this extension says so on its behalf. With ``-j 1`` (plain
``jupyter-book build``) nothing changes.
"""

from __future__ import annotations

from sphinx.application import Sphinx

UNDECLARED_BUT_SAFE = ("sphinx_multitoc_numbering",)


def _declare(app: Sphinx) -> None:
    for name in UNDECLARED_BUT_SAFE:
        extension = app.extensions.get(name)
        if extension is not None and extension.parallel_read_safe is None:
            extension.parallel_read_safe = True


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", _declare)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
