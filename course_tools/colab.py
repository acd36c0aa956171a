"""The first cell of every notebook: install ``course_lib`` when it is missing (Colab), else do nothing.

The repository URL lives in one place, the book's ``_config.yml`` (``repository.url``). The tests
check every notebook's first cell against :func:`setup_cell_source` of that URL, and the exercise
generator writes the same cell into the student notebooks.

Before publishing, maintainers run one command::

    python -m course_tools colab check         # the URL answers (git ls-remote) and every notebook uses it
    python -m course_tools colab check --fix   # rewrite every notebook's first cell to the current template
    python -m course_tools colab build         # regenerate the Colab editions in colab/ (course_tools.colab_edition)

The cell, as a student meets it in Colab: folded (``#@title`` and the ``cellView: form`` metadata), it
prints one line while it installs (about 15 s) and is silent otherwise. If the installation fails it
raises a ``SetupError`` whose only output is one sentence saying what failed and what to do, quoting
git's own error line (``fatal: repository '…' not found`` becomes "repository not found: … Open this
notebook from the book's Colab button, or set _URL …") (IPython
shows its ``_render_traceback_()`` instead of a traceback). The error stops "Run all", so the later
cells do not cascade into ``NameError`` s.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import nbformat
import yaml

#: The cell tag that hides the set-up cell in the HTML book (it matters only on Colab).
SETUP_CELL_TAG = "remove-cell"

#: Cell metadata that folds the cell in Colab (it shows only the ``#@title`` line).
COLAB_FORM_METADATA = {"cellView": "form"}

#: Folders whose notebooks start with the set-up cell (relative to the repository root).
NOTEBOOK_FOLDERS = ("chapters", "exercises/source", "exercises/student", "exercises/solutions")

# Every line <= 88 characters: chapters/ruff.toml lints notebook code at the book's column width.
_TEMPLATE = '''\
#@title Set-up (run first): installs the course's library in Colab, about 15 s
# Does nothing where course_lib is already installed (a checkout, the book's build).
# The URL is set in _config.yml; `python -m course_tools colab check --fix` rewrites it.
import importlib.util
import subprocess
import sys

_URL = "{url}"
if importlib.util.find_spec("course_lib") is None:
    print("Installing the course's library (about 15 s)...", flush=True)
    _pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", f"git+{{_URL}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if _pip.returncode != 0:

        class SetupError(Exception):
            def _render_traceback_(self):  # IPython prints this instead of a traceback
                return [f"SetupError: {{self}}"]

        _lines = [x.strip() for x in _pip.stderr.splitlines() if x.strip()] or ["?"]
        # git's own error line (pip clones the repository), else pip's last line
        _git = next((x for x in _lines if x.startswith("fatal:")), _lines[-1])
        if "not found" in _git.lower():
            _what = (
                f"repository not found: {{_URL}} does not exist or is private. "
                "Open this notebook from the book's Colab button, or set _URL to "
                "the course's public repository"
            )
        elif "resolve host" in _git.lower() or "network" in _git.lower():
            _what = "this runtime is offline: connect it (Runtime > Reconnect)"
        else:
            _what = f"pip could not install {{_URL}}"
        _said = _git[:200]
        raise SetupError(f"{{_what}}, then run this cell again. (git/pip: {{_said}})")'''


def setup_cell_source(repository_url: str) -> str:
    """Return the exact source of the set-up cell for the repository at ``repository_url``."""
    if not re.fullmatch(r"https://[\w.-]+/[\w./-]+", repository_url):
        raise ValueError(f"repository_url must be an https URL of a git repository, got {repository_url!r}")
    return _TEMPLATE.format(url=repository_url.removesuffix("/"))


def repository_config(config_path: str | Path = "_config.yml") -> dict:
    """The ``repository`` section of the book's ``_config.yml`` (``{}`` when there is none)."""
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    section = config.get("repository") if isinstance(config, dict) else None
    return section if isinstance(section, dict) else {}


def repository_url(config_path: str | Path = "_config.yml") -> str:
    """Read ``repository.url`` from the book's ``_config.yml``."""
    url = repository_config(config_path).get("url")
    if not isinstance(url, str) or not url:
        raise ValueError(f"{config_path}: no 'repository: url:' entry found")
    return url


def setup_cell_problems(cell, expected_source: str) -> list[str]:
    """What is wrong with a notebook's first cell (``[]`` when it is the standard set-up cell)."""
    if cell is None or cell.get("cell_type") != "code":
        return ["the first cell is not a code cell"]
    problems = []
    if cell.get("source") != expected_source:
        found = re.search(r'^_URL = "([^"]*)"', cell.get("source", ""), flags=re.MULTILINE)
        where = f"installs from {found.group(1)}" if found else "differs from the template"
        problems.append(f"the set-up cell {where}; expected setup_cell_source(<_config.yml url>)")
    metadata = cell.get("metadata", {})
    if SETUP_CELL_TAG not in metadata.get("tags", []):
        problems.append(f"the set-up cell is not tagged {SETUP_CELL_TAG!r} (it would show in the book)")
    if any(metadata.get(k) != v for k, v in COLAB_FORM_METADATA.items()):
        problems.append("the set-up cell lacks metadata cellView: form (it would not be folded in Colab)")
    return problems


def notebooks(root: str | Path) -> list[Path]:
    """Every notebook that must start with the set-up cell: chapters and all exercise versions."""
    root = Path(root)
    return sorted(p for folder in NOTEBOOK_FOLDERS for p in (root / folder).glob("*.ipynb"))


def fix_setup_cell(nb, expected_source: str) -> bool:
    """Make ``nb``'s first cell the standard set-up cell (inserting one if the first cell is not code).

    Other metadata of an existing set-up cell (e.g. the exercise generator's) is kept. Returns True
    when ``nb`` changed.
    """
    cells = nb.cells
    if not cells or cells[0].cell_type != "code" or "import importlib.util" not in cells[0].source:
        cells.insert(0, nbformat.v4.new_code_cell(expected_source))
        changed = True
    else:
        changed = False
    cell = cells[0]
    if cell.source != expected_source:
        cell.source = expected_source
        changed = True
    tags = cell.metadata.setdefault("tags", [])
    if SETUP_CELL_TAG not in tags:
        tags.append(SETUP_CELL_TAG)
        changed = True
    for key, value in COLAB_FORM_METADATA.items():
        if cell.metadata.get(key) != value:
            cell.metadata[key] = value
            changed = True
    return changed


def url_answers(url: str, timeout: float = 20.0) -> str | None:
    """``None`` when ``git ls-remote`` reaches the repository within ``timeout`` s, else the reason."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never wait for a password prompt
    try:
        result = subprocess.run(["git", "ls-remote", "--exit-code", url, "HEAD"], capture_output=True, text=True,
                                timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return f"git ls-remote {url} did not answer within {timeout:g} s"
    except FileNotFoundError:
        return "git is not installed, so the URL could not be checked"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        return f"git ls-remote {url} failed: {last}"
    return None


def check(root: str | Path = ".", fix: bool = False, network: bool = True, timeout: float = 20.0,
          out=sys.stdout) -> int:
    """Check (or with ``fix``, rewrite) every notebook's set-up cell and that the URL answers.

    Returns the number of problems left (0 = ready to publish).
    """
    root = Path(root)
    url = repository_url(root / "_config.yml")
    expected = setup_cell_source(url)
    problems: list[str] = []
    fixed: list[Path] = []
    for path in notebooks(root):
        text = path.read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        if fix and fix_setup_cell(nb, expected):
            new = nbformat.writes(nb)
            path.write_text(new if new.endswith("\n") else new + "\n", encoding="utf-8")
            fixed.append(path)
        first = nb.cells[0] if nb.cells else None
        problems += [f"{path.relative_to(root)}: {p}" for p in setup_cell_problems(first, expected)]
    if network:
        reason = url_answers(url, timeout=timeout)
        if reason:
            problems.append(f"_config.yml repository.url: {reason} (is the repository public and the URL right?)")
    for path in fixed:
        print(f"rewrote the set-up cell of {path.relative_to(root)}", file=out)
    if fixed and any(p.parent.name == "source" for p in fixed):
        print("exercise sources changed: run `python -m course_tools build` to regenerate", file=out)
    for problem in problems:
        print(problem, file=out)
    n = len(notebooks(root))
    if not problems:
        checked = "and the URL answers" if network else "(URL not checked: --offline)"
        print(f"OK: {n} notebooks install course_lib from {url} {checked}", file=out)
    return len(problems)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools colab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check that the URL answers and every notebook's first cell points at it")
    p.add_argument("--fix", action="store_true", help="rewrite every notebook's first cell to the current template")
    p.add_argument("--offline", action="store_true", help="skip the git ls-remote check of the URL")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for git ls-remote (default 20)")
    p.add_argument("--root", default=".", help="the repository root (default: the current folder)")
    b = sub.add_parser("build", help="write the Colab editions of the chapters to colab/ (plain Jupyter Markdown)")
    b.add_argument("--check", action="store_true", help="only report the editions that are stale (exit 1)")
    b.add_argument("--root", default=".", help="the repository root (default: the current folder)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command == "build":
        from course_tools.colab_edition import build

        stale = build(args.root, check_only=args.check)
        return 1 if stale and args.check else 0
    return 1 if check(args.root, fix=args.fix, network=not args.offline, timeout=args.timeout) else 0


if __name__ == "__main__":
    sys.exit(main())
