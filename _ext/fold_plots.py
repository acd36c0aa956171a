"""Fold the code that draws a figure, so that a page's science code stays in view.

A code cell whose output is a captioned figure (cell metadata ``mystnb.figure.caption``) is mostly
plotting code: the book shows its figure and folds its source behind myst-nb's "Show code cell source"
toggle, as if the cell were tagged ``hide-input``. A cell tagged ``show-input`` stays unfolded (for a
figure whose code is the point). The rule is applied to the notebook text as Sphinx reads it
(``source-read``), so the notebooks themselves are not edited and a new chapter follows it too.
"""

from __future__ import annotations

import json

from sphinx.application import Sphinx

FOLD_TAG = "hide-input"
KEEP_TAG = "show-input"
_OTHER_HIDING = {"hide-input", "remove-input", "remove-cell", "hide-cell"}


def fold_figure_cells(notebook: dict) -> int:
    """Tag every captioned-figure code cell of ``notebook`` with ``hide-input``; returns how many."""
    folded = 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata") or {}
        caption = ((metadata.get("mystnb") or {}).get("figure") or {}).get("caption")
        tags = metadata.get("tags") or []
        if caption and KEEP_TAG not in tags and not _OTHER_HIDING & set(tags):
            # only a folded cell is changed (course_tools/book_execute.py caches the pages as read here)
            cell["metadata"] = {**metadata, "tags": [*tags, FOLD_TAG]}
            folded += 1
    return folded


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if not app.env.doc2path(docname).endswith(".ipynb"):
        return
    try:
        notebook = json.loads(source[0])
    except ValueError:
        return
    if fold_figure_cells(notebook):
        source[0] = json.dumps(notebook, ensure_ascii=False)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
