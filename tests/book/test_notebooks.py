"""Repository-wide rules for notebooks and devices (what the README promises every page obeys)."""

import re
from pathlib import Path

import nbformat
import pytest

from course_tools.colab import repository_url, setup_cell_problems, setup_cell_source

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p for folder in ("chapters", "exercises") for p in (ROOT / folder).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)
CHAPTER_NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def _toc_files() -> set[str]:
    return set(re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())) | set(
        re.findall(r"^root:\s*(\S+)", (ROOT / "_toc.yml").read_text(), flags=re.MULTILINE)
    )


def test_the_rules_below_see_every_notebook_of_the_book_and_the_exercises():
    """The parametrized tests run over these lists: an empty or partial glob would pass them vacuously."""
    toc_notebooks = {e for e in _toc_files() if (ROOT / f"{e}.ipynb").is_file()}
    assert {f"chapters/{p.stem}" for p in CHAPTER_NOTEBOOKS} == toc_notebooks and toc_notebooks
    sources = {p.name for p in (ROOT / "exercises" / "source").glob("*.ipynb")}
    for version in ("source", "student", "solutions"):
        assert {p.name for p in NOTEBOOKS if p.parent.name == version} == sources, version


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_valid_and_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have stored outputs; clear them (the book executes notebooks)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_starts_with_the_standard_setup_cell(path):
    # source = setup_cell_source(<_config.yml url>), tagged remove-cell (hidden in the book), cellView form
    # (folded in Colab). `python -m course_tools colab check --fix` rewrites every notebook's first cell.
    nb = nbformat.read(path, as_version=4)
    expected = setup_cell_source(repository_url(ROOT / "_config.yml"))
    problems = setup_cell_problems(nb.cells[0] if nb.cells else None, expected)
    assert not problems, f"{path.name}: " + "; ".join(problems) + " (run: python -m course_tools colab check --fix)"


@pytest.mark.parametrize("path", CHAPTER_NOTEBOOKS, ids=_ids(CHAPTER_NOTEBOOKS))
def test_every_chapter_notebook_is_in_the_toc(path):
    assert f"chapters/{path.stem}" in _toc_files(), f"{path.name} is not listed in _toc.yml"


def test_every_toc_entry_exists():
    for entry in _toc_files():
        matches = [p for p in ROOT.glob(entry + ".*") if p.suffix in {".md", ".ipynb"}]
        assert matches, f"_toc.yml lists {entry}, but no such file exists"


def test_chapter_notebooks_are_numbered_in_toc_order():
    numbered = [e for e in re.findall(r"file:\s*chapters/(\d\d)_\S+", (ROOT / "_toc.yml").read_text())]
    assert numbered == sorted(numbered) and len(set(numbered)) == len(numbered)


# A device is chosen by course_lib.device.get_device() and nowhere else.
HARD_CODED_DEVICE = re.compile(r"""\.cuda\(|["']cuda(:\d+)?["']""")
ALLOWED = {ROOT / "course_lib" / "device.py"}
PY_FILES = sorted(p for p in (ROOT / "course_lib").rglob("*.py") if p not in ALLOWED)


def _code_of(path: Path) -> str:
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
        return "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS + PY_FILES, ids=_ids(NOTEBOOKS + PY_FILES))
def test_no_hard_coded_device(path):
    hits = [m.group(0) for m in HARD_CODED_DEVICE.finditer(_code_of(path))]
    assert not hits, f"{path.relative_to(ROOT)} hard-codes a device {hits}; use course_lib.get_device()"


def test_the_device_check_catches_what_it_should():
    for bad in ['x.cuda()', 'torch.device("cuda")', "to('cuda:0')", "x.cuda(0)"]:
        assert HARD_CODED_DEVICE.search(bad), bad
    for good in ["torch.cuda.is_available()", "x.to(device)", "get_device()"]:
        assert not HARD_CODED_DEVICE.search(good), good


def _figure_cells_ending_in_a_value(path: Path) -> list[int]:
    """Indices of captioned figure cells whose last statement is an expression with a value.

    Such a value (a ``claim(...)`` result, a bare name) is a second output of the figure cell: myst-nb
    then writes the figure's target twice and the build stops ("Duplicate explicit target name").
    A call of ``show``, ``print``, ``display`` or ``tight_layout`` returns nothing, and a trailing ``;``
    hides the value: both are allowed.
    """
    import ast

    found = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code" or "figure" not in cell.metadata.get("mystnb", {}):
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        body = ast.parse(source).body
        last = body[-1] if body else None
        if isinstance(last, ast.Expr) and not source.rstrip().endswith(";"):
            func = last.value.func if isinstance(last.value, ast.Call) else None
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in {"show", "print", "display", "tight_layout"}:
                found.append(i)
    return found


@pytest.mark.parametrize("path", CHAPTER_NOTEBOOKS, ids=_ids(CHAPTER_NOTEBOOKS))
def test_a_figure_cell_does_not_end_with_a_value(path):
    assert _figure_cells_ending_in_a_value(path) == [], "end the cell with a statement (e.g. claim before print)"


def test_the_figure_cell_check_catches_a_trailing_claim(tmp_path):
    nb = nbformat.v4.new_notebook()
    figure = {"mystnb": {"figure": {"caption": "c", "name": "fig-x"}}}
    nb.cells = [nbformat.v4.new_code_cell("plt.plot([1])\nplt.show()", metadata=figure),
                nbformat.v4.new_code_cell("plt.plot([1])\nclaim('s', 1, 1, tol=0)", metadata=figure),
                nbformat.v4.new_code_cell("claim('s', 1, 1, tol=0)"),
                nbformat.v4.new_code_cell("plt.plot([1])\nax.legend()", metadata=figure),
                nbformat.v4.new_code_cell("plt.plot([1])\nclaim('s', 1, 1, tol=0);", metadata=figure)]
    nbformat.write(nb, tmp_path / "x.ipynb")
    assert _figure_cells_ending_in_a_value(tmp_path / "x.ipynb") == [1, 3]
