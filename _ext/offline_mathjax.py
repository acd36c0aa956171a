"""Serve MathJax from the built book itself, so that its math is typeset without a network.

Sphinx loads MathJax from a CDN by default: a reader who opens ``_build/html`` offline (a laptop in a lecture
hall, this course's build machines) would see raw TeX. The PyPI package ``sphinx-mathjax-offline`` ships the
MathJax 3 files, but its folder name has hyphens and cannot be imported as a Sphinx extension, so this
extension takes the files from that installed distribution, copies them to ``_static/mathjax`` and points
``mathjax_path`` at them.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util.fileutil import copy_asset

DISTRIBUTION = "sphinx-mathjax-offline"
ENTRY_SCRIPT = "tex-chtml.js"


def mathjax_files() -> Path:
    """The folder of MathJax 3 files inside the installed ``sphinx-mathjax-offline`` distribution."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as err:
        raise ExtensionError(
            f"offline_mathjax needs the package {DISTRIBUTION!r}: pip install -e '.[book]' installs it"
        ) from err
    folder = Path(str(dist.locate_file("sphinx-mathjax-offline/static/mathjax")))
    if not (folder / ENTRY_SCRIPT).is_file():
        raise ExtensionError(f"{folder / ENTRY_SCRIPT} not found: the {DISTRIBUTION} installation is incomplete")
    return folder


def _use_local_mathjax(app: Sphinx, config: Config) -> None:
    config.mathjax_path = f"mathjax/{ENTRY_SCRIPT}"  # a relative path is served from _static


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        copy_asset(str(mathjax_files()), str(Path(app.outdir) / "_static" / "mathjax"))


def setup(app: Sphinx) -> dict[str, object]:
    mathjax_files()  # fail early, with the fix in the message
    app.connect("config-inited", _use_local_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
