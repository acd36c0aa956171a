"""The student and solution versions and the book's markdown are generated from the sources, and are fresh."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_tools.build import notebooks as nbx
from course_tools.build.generate import expected_files, sources
from course_tools.colab import repository_url, setup_cell_source

ROOT = Path(__file__).resolve().parents[2]


def test_generated_exercise_files_are_not_stale():
    done = subprocess.run([sys.executable, "-m", "course_tools", "build", "--check"], check=False, cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", sources(ROOT), ids=lambda p: p.name)
def test_source_notebook_is_valid(path):
    assert nbx.validate(nbx.read(path), setup_cell_source(repository_url(ROOT / "_config.yml")),
                        int(path.name[:2])) == []


@pytest.mark.parametrize("path", sources(ROOT), ids=lambda p: p.name)
def test_student_version_has_stubs_and_no_solutions_or_hidden_checks(path):
    student = nbformat.reads(expected_files(ROOT)[ROOT / "exercises" / "student" / path.name], as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and "hidden=True" not in text
    assert not any(nbx.role(c) == "hidden" for c in student.cells)
    for ex in nbx.exercises(nbx.read(path)):
        answers = [c for c in student.cells if nbx.role(c) == "answer" and nbx.meta(c)["question"] == ex.question]
        if ex.kind == "implement":
            assert f'raise NotImplementedError("Exercise {ex.question}:' in answers[0].source
            assert answers[0].source.startswith("def ")  # the signature and docstring stay
        elif ex.kind == "predict":
            assert "= ...  # your answer" in answers[0].source
        else:
            assert nbx.TEXT_PLACEHOLDER in answers[0].source


def test_a_solution_inside_a_function_becomes_a_stub_that_keeps_the_signature():
    source = 'def f(x):\n    """Doc."""\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION'
    assert nbx.strip_solutions(source, "code", "3.1") == (
        'def f(x):\n    """Doc."""\n    raise NotImplementedError("Exercise 3.1: replace this line with your code")'
    )
    assert nbx.remove_markers(source, "code") == 'def f(x):\n    """Doc."""\n    return 2 * x'
    with pytest.raises(ValueError, match="never closed"):
        nbx.strip_solutions("# BEGIN SOLUTION\nx = 1", "code", "3.1")


def test_validation_catches_points_that_disagree_with_the_header():
    nb = nbx.read(sources(ROOT)[0])
    for cell in nb.cells:
        if nbx.role(cell) == "hidden":
            cell.metadata["exercise"]["points"] = 7
            break
    problems = nbx.validate(nb, setup_cell_source(repository_url(ROOT / "_config.yml")), 1)
    assert any("hidden checks carry" in p for p in problems)


def test_book_markdown_has_labelled_exercises_and_dropdown_solutions():
    for path in sources(ROOT):
        md = (ROOT / "exercises" / "book" / f"{path.stem}.md").read_text()
        for ex in nbx.exercises(nbx.read(path)):
            assert f":label: {ex.label}" in md and f"::::{{solution}} {ex.label}" in md
        assert md.count(":class: dropdown") == len(nbx.exercises(nbx.read(path)))
        assert "colab.research.google.com/github/" in md


@pytest.mark.parametrize("path", sources(ROOT), ids=lambda p: p.name)
def test_the_no_solutions_setting_leaves_every_solution_out_of_the_book(path, monkeypatch):
    from course_tools.build.generate import SOLUTIONS_ENV

    monkeypatch.setenv(SOLUTIONS_ENV, "hide")
    hidden = expected_files(ROOT)
    book = hidden[ROOT / "exercises" / "book" / f"{path.stem}.md"]
    assert "{solution}" not in book and "exercises/solutions/" not in book
    assert "your instructor publishes the solutions after the deadline" in book
    assert not any("exercises/solutions" in str(p) for p in hidden)
    for cell in nbx.read(path).cells:  # no line of any model answer reaches the page
        if nbx.role(cell) == "answer":
            solution = nbx.remove_markers(cell.source, cell.cell_type)
            student = nbx.strip_solutions(cell.source, cell.cell_type, "x")
            for line in set(solution.splitlines()) - set(student.splitlines()):
                if len(line.strip()) > 12:
                    assert line.strip() not in book, line
    monkeypatch.delenv(SOLUTIONS_ENV)
    shown = expected_files(ROOT, solutions=None)[ROOT / "exercises" / "book" / f"{path.stem}.md"]
    assert "{solution}" in shown and "exercises/solutions/" in shown


@pytest.mark.parametrize("path", sources(ROOT), ids=lambda p: p.name)
def test_every_exercise_links_a_section_and_an_equation_its_chapter_has(path):
    import json

    from course_lib.exercises.registry import questions
    from course_lib.exercises.spec import section_of

    questions()
    chapter = "".join("".join(c["source"]) for c in json.loads((ROOT / "chapters" / path.name).read_text())["cells"])
    book = expected_files(ROOT)[ROOT / "exercises" / "book" / f"{path.stem}.md"]
    student = nbformat.reads(expected_files(ROOT)[ROOT / "exercises" / "student" / path.name], as_version=4)
    for ex in nbx.exercises(nbx.read(path)):
        section = section_of(ex.question)
        if section is None and int(path.name[:2]) > 8:
            continue  # chapters after 8 declare their sections when their authors add them
        assert section is not None, ex.question
        assert f"## {section.number} " in chapter, (ex.question, section)
        assert not section.equation or f"$$ ({section.equation})" in chapter, (ex.question, section)
        assert f"*Read first:* §{section.number} {section.title}" in book
        header = next(c for c in student.cells if nbx.role(c) == "header" and nbx.meta(c)["question"] == ex.question)
        assert f"[§{section.number} {section.title}](https://colab.research.google.com/" in header.source


@pytest.mark.parametrize("path", sources(ROOT), ids=lambda p: p.name)
def test_the_solution_is_the_source_minus_its_hidden_checks(path):
    """Why `make test` does not execute the solutions: the source executes (tests/book/test_exercises_notebooks.py)
    and its solution holds the same cells in the same order, less the hidden cells (each exactly one
    ``check(..., hidden=True)`` call, which only reports) and less the solution markers (comment lines)."""
    source = nbx.read(path)
    solution = nbformat.reads(expected_files(ROOT)[ROOT / "exercises" / "solutions" / path.name], as_version=4)
    hidden = [c for c in source.cells if nbx.role(c) == "hidden" or nbx.HIDDEN_TAG in c.metadata.get("tags", [])]
    for cell in hidden:
        assert nbx.hidden_call(cell.source).question  # parses as one check() call, nothing else
    kept = [c for c in source.cells if c not in hidden]
    assert [c.cell_type for c in solution.cells] == [c.cell_type for c in kept]
    for ours, theirs in zip(solution.cells, kept, strict=True):
        if nbx.role(ours) == "header":  # the generated header ends with its "Read first" link
            ours.source = ours.source.split("\n\n*Read first:*")[0]
        dropped = [line for line in theirs.source.split("\n") if line not in ours.source.split("\n")]
        assert all(line.strip() in (nbx.CODE_BEGIN, nbx.CODE_END, nbx.TEXT_BEGIN, nbx.TEXT_END) for line in dropped)
        assert [line for line in theirs.source.split("\n") if line not in dropped] == ours.source.split("\n")
