"""The first cell of every notebook: install ``course_lib`` when it is missing (Colab), else do nothing.

The repository URL lives in one place, the book's ``_config.yml`` (``repository.url``). The tests
check every notebook's first cell against :func:`setup_cell_source` of that URL, and the exercise
generator writes the same cell into the student notebooks.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The cell tag that hides the set-up cell in the HTML book (it matters only on Colab).
SETUP_CELL_TAG = "remove-cell"

_TEMPLATE = '''\
# Set-up for Colab: install the course's library when it is not installed yet (does nothing otherwise).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("course_lib") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+{url}"], check=True)'''


def setup_cell_source(repository_url: str) -> str:
    """Return the exact source of the set-up cell for the repository at ``repository_url``."""
    if not re.fullmatch(r"https://[\w.-]+/[\w./-]+", repository_url):
        raise ValueError(f"repository_url must be an https URL of a git repository, got {repository_url!r}")
    return _TEMPLATE.format(url=repository_url.removesuffix("/"))


def repository_url(config_path: str | Path = "_config.yml") -> str:
    """Read ``repository.url`` from the book's ``_config.yml``.

    Uses a tiny parser for that one key so that this module needs no YAML library in Colab.
    """
    text = Path(config_path).read_text(encoding="utf-8")
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", text, flags=re.MULTILINE)
    if match is None:
        raise ValueError(f"{config_path}: no 'repository: url:' entry found")
    return match.group(1).strip("'\"")
