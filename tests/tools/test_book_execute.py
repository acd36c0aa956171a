"""course_tools.book_execute: the book's notebooks executed several at a time into the build's cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from course_tools import book_execute

ROOT = Path(__file__).resolve().parents[2]


def _notebook(code: list[str], caption: str | None = None) -> dict:
    cells = []
    for i, source in enumerate(code):
        metadata = {"mystnb": {"figure": {"caption": caption, "name": f"fig-{i}"}}} if caption else {}
        cells.append({"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": metadata,
                      "outputs": [], "source": source})
    return {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}}


def _as_sphinx_reads_it(path: Path):
    """The notebook myst-nb receives: the file's text after _ext/fold_plots.py's own source-read handler."""
    import sys
    from types import SimpleNamespace

    import nbformat

    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import fold_plots
    finally:
        sys.path.remove(str(ROOT / "_ext"))
    app = SimpleNamespace(env=SimpleNamespace(doc2path=lambda docname: str(path)))
    source = [path.read_text()]
    fold_plots._source_read(app, path.stem, source)
    return nbformat.reads(source[0], as_version=4)


def _book(tmp_path: Path, pages: dict[str, dict]) -> Path:
    (tmp_path / "_ext").mkdir()
    shutil.copy(ROOT / "_ext" / "fold_plots.py", tmp_path / "_ext")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "index.md").write_text("# A book\n")
    (tmp_path / "chapters" / "notes.md").write_text("# Notes, not executed\n")
    for name, notebook in pages.items():
        (tmp_path / "chapters" / f"{name}.ipynb").write_text(json.dumps(notebook))
    toc = ["format: jb-book", "root: index", "chapters:", "  - file: chapters/notes"]
    toc += [f"  - file: chapters/{name}" for name in pages]
    (tmp_path / "_toc.yml").write_text("\n".join(toc) + "\n")
    (tmp_path / "_config.yml").write_text("execute:\n  execute_notebooks: cache\n  timeout: 60\n")
    return tmp_path


def test_every_notebook_is_cached_with_its_outputs_and_the_build_would_match_it(tmp_path):
    from jupyter_cache import get_cache

    root = _book(tmp_path, {
        # a page without figures: the build reads it unchanged
        "a": _notebook(["import os\nprint(os.environ.get('OMP_NUM_THREADS'), os.getcwd())", "x = 1"]),
        "b": _notebook(["print(6 * 7)"], caption="a figure cell: the build folds it"),
    })
    runs = book_execute.execute_book(root, jobs=2)
    assert sorted(r.path.name for r in runs) == ["a.ipynb", "b.ipynb"]
    cache = get_cache(str(root / book_execute.CACHE))
    assert len(cache.list_cache_records()) == 2
    for name, expected in (("a", f"1 {root / 'chapters'}\n"), ("b", "42\n")):
        # what myst-nb does with the page Sphinx read (after the book's source-read handler): match it,
        # merge the outputs
        _, merged = cache.merge_match_into_notebook(_as_sphinx_reads_it(root / "chapters" / f"{name}.ipynb"))
        assert merged.cells[0].outputs[0]["text"] == expected
    # the download of the executed notebook (_ext/downloads.py): myst-nb's copy of a page whose outputs came
    # from the cache has none; the copy beside the pages gets them from the cache
    import sys
    from types import SimpleNamespace

    import nbformat

    copy = root / "_build" / "jupyter_execute" / "chapters" / "b.ipynb"
    copy.parent.mkdir(parents=True)
    nbformat.write(_as_sphinx_reads_it(root / "chapters" / "b.ipynb"), copy)
    sys.path.insert(0, str(ROOT / "_ext"))
    try:
        import downloads
    finally:
        sys.path.remove(str(ROOT / "_ext"))
    config = SimpleNamespace(execution_mode="cache", execution_cache_path=str(root / book_execute.CACHE))
    app = SimpleNamespace(outdir=str(root / "_build" / "html"), builder=SimpleNamespace(format="html"),
                          env=SimpleNamespace(mystnb_config=config))
    downloads._copy_executed(app, None)
    download = nbformat.read(root / "_build" / "html" / "_executed" / "chapters" / "b.ipynb", as_version=4)
    assert download.cells[0].outputs[0]["text"] == "42\n"
    # the figure cell was cached as the build reads it (tagged hide-input), so it matches; the raw file,
    # without the tag, would not have
    raw = nbformat.read(root / "chapters" / "b.ipynb", as_version=4)
    with pytest.raises(KeyError):
        cache.match_cache_notebook(raw)


def test_a_page_that_runs_alone_runs_first_with_the_threads_it_inherits_and_make_test_splits_the_phases(
        tmp_path, monkeypatch):
    import os

    from jupyter_cache import get_cache

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    # (the two pages' code differs: jupyter-cache keys a run by its code, so two equal pages share a record)
    timed = _notebook(["import os\nprint(os.environ.get('OMP_NUM_THREADS'))  # timed"])
    timed["metadata"]["course"] = {"execute": "alone"}
    root = _book(tmp_path, {"first": _notebook(["import os\nprint(os.environ.get('OMP_NUM_THREADS'))"]),
                            "timed": timed})
    assert [book_execute.runs_alone(root / "chapters" / f"{n}.ipynb") for n in ("first", "timed")] == [False, True]
    runs = book_execute.execute_book(root, jobs=2)
    assert [r.path.stem for r in runs] == ["timed", "first"]  # the timed page before the others
    outputs = {r.path.stem: "".join(json.loads(r.notebook)["cells"][0]["outputs"][0]["text"]) for r in runs}
    assert outputs == {"timed": "2\n", "first": "1\n"}
    assert os.environ["OMP_NUM_THREADS"] == "2"  # the workers' one-thread setting stays in the workers
    # make test: phase "alone" empties the cache and runs only the timed page; "rest" adds the others
    assert [r.path.stem for r in book_execute.execute_book(root, jobs=2, phase="alone")] == ["timed"]
    # (each check opens the cache afresh: an open one can keep reading what it saw first)
    assert len(get_cache(str(root / book_execute.CACHE)).list_cache_records()) == 1
    assert [r.path.stem for r in book_execute.execute_book(root, jobs=2, phase="rest")] == ["first"]
    assert len(get_cache(str(root / book_execute.CACHE)).list_cache_records()) == 2
    with pytest.raises(ValueError, match="phase must be one of"):
        book_execute.execute_book(root, jobs=1, phase="later")


def test_the_pages_that_time_steps_run_alone():
    assert {p.stem for p in book_execute.book_notebooks(ROOT) if book_execute.runs_alone(p)} == {
        "07_cost_of_a_step", "08_after_adam"}


def test_a_second_run_starts_from_an_empty_cache(tmp_path):
    from jupyter_cache import get_cache

    root = _book(tmp_path, {"a": _notebook(["x = 1"])})
    book_execute.execute_book(root, jobs=1)
    book_execute.execute_book(root, jobs=1)
    assert len(get_cache(str(root / book_execute.CACHE)).list_cache_records()) == 1


def test_a_failing_notebook_stops_the_run_and_names_the_notebook_and_the_error(tmp_path, capsys):
    # one job: "bad" fails first, so "later" is never started (a run does not go on past a failure)
    root = _book(tmp_path, {"bad": _notebook(["x = 1", "raise ValueError('planted failure')"]),
                            "later": _notebook(["open('started', 'w').close()"])})
    with pytest.raises(RuntimeError, match=r"(?s)chapters/bad\.ipynb: executing the notebook failed.*planted failure"):
        book_execute.execute_book(root, jobs=1)
    assert not (root / "chapters" / "started").exists()
    assert book_execute.main(["--root", str(root), "--jobs", "1"]) == 1
    assert "chapters/bad.ipynb" in capsys.readouterr().err


def test_bad_arguments_are_refused_with_a_message(tmp_path):
    with pytest.raises(ValueError, match="jobs must be at least 1"):
        book_execute.execute_book(ROOT, jobs=0)
    root = _book(tmp_path, {})
    with pytest.raises(FileNotFoundError, match="no notebook pages"):
        book_execute.execute_book(root, jobs=1)
    with pytest.raises(SystemExit):
        book_execute.main(["--jobs", "0"])


def test_the_book_config_reads_from_the_cache_that_the_tool_fills():
    timeout, allow_errors = book_execute.execution_settings(ROOT)
    assert timeout is not None and timeout > 0 and allow_errors is False
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    assert "course_tools.book_execute" in (ROOT / "Makefile").read_text()
    assert {p.stem for p in book_execute.book_notebooks(ROOT)} == {p.stem for p in (ROOT / "chapters").glob("*.ipynb")}
