"""Source notebooks (solutions + hidden checks) get full marks; student notebooks fail only as "not implemented"."""

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_lib.exercises.registry import RESULTS_ENV_VAR
from course_tools.build import notebooks as nbx
from course_tools.build.generate import sources

ROOT = Path(__file__).resolve().parents[2]


def _execute(nb, tmp_path, monkeypatch):
    results = tmp_path / "results.jsonl"
    results.touch()
    monkeypatch.setenv(RESULTS_ENV_VAR, str(results))
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [(nbx.cell_id(c), o.get("ename"), o.get("evalue")) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o.get("output_type") == "error"]
    return [json.loads(line) for line in results.read_text().splitlines()], errors


@pytest.mark.parametrize("path", sources(ROOT), ids=lambda p: p.name)
def test_source_notebook_passes_every_visible_and_hidden_check(path, tmp_path, monkeypatch):
    nb = nbx.read(path)
    records, errors = _execute(nb, tmp_path, monkeypatch)
    assert errors == []
    checked = [c for c in nb.cells if nbx.role(c) in ("check", "hidden")]
    assert len(records) == len(checked)
    assert all(r["passed"] for r in records), [r["message"] for r in records if not r["passed"]]
    assert sum(r["hidden"] for r in records) == sum(nbx.role(c) == "hidden" for c in nb.cells)


@pytest.mark.parametrize("path", sorted((ROOT / "exercises" / "student").glob("*.ipynb")), ids=lambda p: p.name)
def test_student_notebook_runs_and_every_check_says_not_implemented(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    records, errors = _execute(nb, tmp_path, monkeypatch)
    assert errors == [], "a student notebook must run top to bottom without errors before any answer is written"
    assert records and all(r["status"] == "not_implemented" for r in records), records
    for cell in nb.cells:
        if nbx.role(cell) == "check":
            assert any("not implemented yet" in o.get("text", "") or "not answered yet" in o.get("text", "")
                       for o in cell.outputs), cell.source
    assert os.environ.get(RESULTS_ENV_VAR)
