"""The exercise notebook format, and the student and solution versions made from a source notebook.

A source notebook (``exercises/source/NN_*.ipynb``) is the solution notebook the instructor edits. Every
cell carries ``metadata["exercise"] = {"id": ..., "role": ..., ...}`` with a stable ``id`` (the grader
matches submitted cells by it, like nbgrader's ``grade_id``) and one of these roles:

``setup``
    the standard first cell (``course_tools.colab.setup_cell_source``), tagged ``remove-cell``.
``given``
    text or code handed out as it is.
``header``
    the markdown cell that opens an exercise: ``### Exercise 1.2 — Title · 2 points · ★★☆ · ~10 min``
    followed by the task; its metadata adds ``question`` and ``kind`` (implement, predict or explain).
``answer``
    the cell the student fills in (metadata adds ``question``). In code, the solution sits between
    ``# BEGIN SOLUTION`` and ``# END SOLUTION``; in markdown, between ``<!-- BEGIN SOLUTION -->`` and
    ``<!-- END SOLUTION -->`` (the markers otter-grader and nbgrader use).
``check``
    a visible self-check cell, e.g. ``check("1.1", gradient_descent)``.
``hidden``
    a grading cell, tagged ``hidden-check``, with ``question`` and ``points``; it calls the same
    checks with ``hidden=True`` (or a named case set). Removed from both generated versions.

The student version replaces each solution region (see :func:`strip_solutions`); the solution version
drops the markers. Both drop hidden cells and outputs.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path

import nbformat

META = "exercise"
HIDDEN_TAG = "hidden-check"
#: ``use``: the cell after an implement exercise's check that runs the student's own function on an example
#: (the grader never runs it).
ROLES = ("setup", "given", "header", "answer", "check", "use", "hidden")
KINDS = ("implement", "predict", "explain")

CODE_BEGIN, CODE_END = "# BEGIN SOLUTION", "# END SOLUTION"
TEXT_BEGIN, TEXT_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
TEXT_PLACEHOLDER = "_Write your answer here._"

HEADER_RE = re.compile(
    r"^###\s+Exercise\s+(?P<question>\d+\.\d+)\s+—\s+(?P<title>.+?)\s+·\s+(?P<points>\d+)\s+points?\s+·\s+"
    r"(?P<difficulty>[★☆]{3})\s+·\s+~(?P<minutes>\d+)\s+min\s*$"
)
_ASSIGNMENT_RE = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*(?::[^=]+)?=(?!=)")


@dataclasses.dataclass(frozen=True)
class Header:
    """What an exercise header states."""

    question: str
    title: str
    points: int
    difficulty: str
    minutes: int


@dataclasses.dataclass
class Exercise:
    """One exercise of a source notebook: its header, kind, task text and cells."""

    header: Header
    kind: str
    task: str
    answers: list[nbformat.NotebookNode]
    hidden: list[nbformat.NotebookNode]
    checks: list[nbformat.NotebookNode]

    @property
    def question(self) -> str:
        """The question id, e.g. ``"1.2"``."""
        return self.header.question

    @property
    def label(self) -> str:
        """The book label, e.g. ``ex-1-2``."""
        return "ex-" + self.question.replace(".", "-")


def meta(cell: nbformat.NotebookNode) -> dict:
    """The cell's ``exercise`` metadata ({} when it has none)."""
    value = cell.get("metadata", {}).get(META, {})
    return value if isinstance(value, dict) else {}


def role(cell: nbformat.NotebookNode) -> str:
    """The cell's role ("" when it has none)."""
    return str(meta(cell).get("role", ""))


def cell_id(cell: nbformat.NotebookNode) -> str:
    """The cell's stable exercise id ("" when it has none)."""
    return str(meta(cell).get("id", ""))


def parse_header(source: str) -> Header | None:
    """Parse the first line of a header cell; None when it does not follow the format."""
    first = source.strip().splitlines()[0] if source.strip() else ""
    match = HEADER_RE.match(first)
    if match is None:
        return None
    return Header(match["question"], match["title"], int(match["points"]), match["difficulty"], int(match["minutes"]))


def _regions(lines: list[str], begin: str, end: str) -> list[tuple[int, int]]:
    """(start, stop) line indices of each marker pair; raises ValueError on unbalanced markers."""
    spans, start = [], None
    for i, line in enumerate(lines):
        if line.strip() == begin:
            if start is not None:
                raise ValueError(f"nested {begin!r} at line {i + 1}")
            start = i
        elif line.strip() == end:
            if start is None:
                raise ValueError(f"{end!r} without {begin!r} at line {i + 1}")
            spans.append((start, i))
            start = None
    if start is not None:
        raise ValueError(f"{begin!r} at line {start + 1} is never closed")
    return spans


def _student_code(region: list[str], indent: str, question: str) -> list[str]:
    if indent:  # inside a function body: keep the signature and docstring, raise instead
        return [f'{indent}raise NotImplementedError("Exercise {question}: replace this line with your code")']
    names = [m["name"] for line in region if (m := _ASSIGNMENT_RE.match(line))]
    if names:  # a top-level answer such as `lr_max = 2 / 8`: keep the name, leave the value to the student
        return [f"{name} = ...  # your answer" for name in dict.fromkeys(names)]
    return ["# YOUR CODE HERE", f'raise NotImplementedError("Exercise {question}: replace this line with your code")']


def strip_solutions(source: str, cell_type: str, question: str) -> str:
    """The student's version of an answer cell: each solution region replaced by a stub or placeholder."""
    lines = source.split("\n")
    begin, end = (CODE_BEGIN, CODE_END) if cell_type == "code" else (TEXT_BEGIN, TEXT_END)
    out, last = [], 0
    for start, stop in _regions(lines, begin, end):
        out.extend(lines[last:start])
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        if cell_type == "code":
            out.extend(_student_code(lines[start + 1 : stop], indent, question))
        else:
            out.append(TEXT_PLACEHOLDER)
        last = stop + 1
    out.extend(lines[last:])
    return "\n".join(out)


def remove_markers(source: str, cell_type: str) -> str:
    """The solution version of an answer cell: the markers dropped, the solution kept."""
    begin, end = (CODE_BEGIN, CODE_END) if cell_type == "code" else (TEXT_BEGIN, TEXT_END)
    lines = source.split("\n")
    _regions(lines, begin, end)  # validates
    return "\n".join(line for line in lines if line.strip() not in (begin, end))


def _clean(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    return cell


def make_version(source_nb: nbformat.NotebookNode, version: str) -> nbformat.NotebookNode:
    """The ``"student"`` or ``"solution"`` version of a source notebook (hidden cells and outputs removed)."""
    if version not in ("student", "solution"):
        raise ValueError(f"version must be 'student' or 'solution', got {version!r}")
    nb = copy.deepcopy(source_nb)
    cells = []
    for cell in source_nb.cells:
        if role(cell) == "hidden" or HIDDEN_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        cell = _clean(cell)
        if role(cell) == "answer":
            if version == "student":
                cell.source = strip_solutions(cell.source, cell.cell_type, str(meta(cell).get("question", "")))
            else:
                cell.source = remove_markers(cell.source, cell.cell_type)
        cells.append(cell)
    nb.cells = cells
    nb.metadata[META] = {**nb.metadata.get(META, {}), "version": version}
    return nb


def exercises(source_nb: nbformat.NotebookNode) -> list[Exercise]:
    """The exercises of a source notebook, in order (cells are assigned to the header before them)."""
    found: list[Exercise] = []
    by_question: dict[str, Exercise] = {}
    for cell in source_nb.cells:
        r = role(cell)
        if r == "header":
            header = parse_header(cell.source)
            if header is None:
                raise ValueError(f"cell {cell_id(cell)!r}: header does not match the format: {cell.source[:80]!r}")
            task = cell.source.strip().split("\n", 1)[1].strip() if "\n" in cell.source.strip() else ""
            ex = Exercise(header, str(meta(cell).get("kind", "")), task, [], [], [])
            found.append(ex)
            by_question[header.question] = ex
        elif r in ("answer", "hidden", "check"):
            q = str(meta(cell).get("question", ""))
            if q not in by_question:
                raise ValueError(f"cell {cell_id(cell)!r} ({r}) names question {q!r}, which has no header before it")
            {"answer": by_question[q].answers, "hidden": by_question[q].hidden, "check": by_question[q].checks}[r].append(
                cell
            )
    return found


def validate(source_nb: nbformat.NotebookNode, expected_setup: str, chapter: int) -> list[str]:
    """Everything wrong with a source notebook, in words ([] when it is fine)."""
    problems: list[str] = []
    cells = source_nb.cells
    if not cells or cells[0].cell_type != "code" or cells[0].source != expected_setup:
        problems.append("the first cell must be the standard set-up cell (course_tools.colab.setup_cell_source)")
    elif "remove-cell" not in cells[0].metadata.get("tags", []) or role(cells[0]) != "setup":
        problems.append("the set-up cell must be tagged remove-cell and have role 'setup'")
    ids = [cell_id(c) for c in cells]
    for i, (c, cid) in enumerate(zip(cells, ids, strict=True)):
        if not cid:
            problems.append(f"cell {i} has no metadata.exercise.id")
        if role(c) not in ROLES:
            problems.append(f"cell {i} ({cid!r}) has role {role(c)!r}, expected one of {ROLES}")
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count")):
            problems.append(f"cell {i} ({cid!r}) has stored outputs")
        if role(c) == "hidden" and HIDDEN_TAG not in c.metadata.get("tags", []):
            problems.append(f"hidden cell {cid!r} must be tagged {HIDDEN_TAG!r}")
        if HIDDEN_TAG in c.metadata.get("tags", []) and role(c) != "hidden":
            problems.append(f"cell {cid!r} is tagged {HIDDEN_TAG!r} but its role is {role(c)!r}")
    duplicates = sorted({x for x in ids if x and ids.count(x) > 1})
    if duplicates:
        problems.append(f"duplicate cell ids: {duplicates}")
    try:
        found = exercises(source_nb)
    except ValueError as err:
        return problems + [str(err)]
    if not 1 <= len(found) <= 8:
        problems.append(f"expected 1-8 exercises, found {len(found)}")
    for n, ex in enumerate(found, start=1):
        q = ex.question
        if q != f"{chapter}.{n}":
            problems.append(f"exercise {q} should be numbered {chapter}.{n}")
        if ex.kind not in KINDS:
            problems.append(f"exercise {q}: kind {ex.kind!r} is not one of {KINDS}")
        if not ex.answers:
            problems.append(f"exercise {q} has no answer cell")
        for cell in ex.answers:
            begin = CODE_BEGIN if cell.cell_type == "code" else TEXT_BEGIN
            if begin not in cell.source:
                problems.append(f"answer cell {cell_id(cell)!r} has no {begin!r} marker")
            try:
                remove_markers(cell.source, cell.cell_type)
            except ValueError as err:
                problems.append(f"answer cell {cell_id(cell)!r}: {err}")
        hidden_points = sum(int(meta(c).get("points", 0)) for c in ex.hidden)
        if ex.kind == "explain":
            if ex.hidden:
                problems.append(f"exercise {q} is an explain exercise; it must have no hidden checks")
            if any(c.cell_type != "markdown" for c in ex.answers):
                problems.append(f"exercise {q}: an explain exercise's answer cell must be markdown")
        elif hidden_points != ex.header.points:
            problems.append(f"exercise {q}: the header says {ex.header.points} points, its hidden checks carry "
                            f"{hidden_points}")
        problems += _hidden_problems(ex)
        uses = [c for c in source_nb.cells if role(c) == "use" and str(meta(c).get("question", "")) == q]
        if len(uses) > 1:
            problems.append(f"exercise {q}: at most one 'use' cell (found {len(uses)})")
        for cell in uses:
            if "except NotImplementedError" not in cell.source:
                problems.append(f"use cell {cell_id(cell)!r} must catch NotImplementedError (the student notebook "
                                f"runs top to bottom before the function is written)")
    return problems


def _hidden_problems(ex: Exercise) -> list[str]:
    """Hidden cells the grader could not read, or that disagree with the question's declaration."""
    from course_lib.exercises.registry import questions

    declared = questions().get(ex.question)
    problems = []
    for cell in ex.hidden:
        try:
            call = hidden_call(cell.source)
        except ValueError as err:
            problems.append(f"hidden cell {cell_id(cell)!r}: {err}")
            continue
        if call.question != ex.question:
            problems.append(f"hidden cell {cell_id(cell)!r} checks {call.question}, but belongs to {ex.question}")
        if declared is None:
            problems.append(f"question {ex.question} is not declared in course_lib/exercises (chNN.py)")
        elif declared.kind != ex.kind:
            problems.append(f"question {ex.question} is declared as {declared.kind}, its header says {ex.kind}")
        elif call.name != declared.name:
            problems.append(f"hidden cell {cell_id(cell)!r} names `{call.name}`, but question {ex.question} is "
                            f"declared with name={declared.name!r}")
        elif declared.kind == "implement" and call.group is not True and call.group not in declared.groups:
            problems.append(f"hidden cell {cell_id(cell)!r}: question {ex.question} has no case group "
                            f"{call.group!r} (groups: {declared.groups})")
    return problems


def read(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook (nbformat 4)."""
    return nbformat.read(str(path), as_version=4)


def dumps(nb: nbformat.NotebookNode) -> str:
    """The notebook as the text written to disk (nbformat's canonical form, with a final newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


@dataclasses.dataclass(frozen=True)
class HiddenCall:
    """What a hidden cell asks the grader to do: check ``name`` for ``question`` with a case group."""

    question: str
    name: str
    group: bool | str


def hidden_call(source: str) -> HiddenCall:
    """Parse a hidden cell ``check("1.1", gradient_descent, hidden=True)`` without running it.

    The grader never executes hidden cells (they would run in the student's namespace); it reads them.
    Raises ValueError when the cell is not exactly one such call.
    """
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"hidden cell is not valid Python: {err}") from err
    calls = [node.value for node in tree.body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
    if len(tree.body) != 1 or len(calls) != 1:
        raise ValueError(f"a hidden cell must be one call check(\"Q\", name, hidden=...), got {source!r}")
    call = calls[0]
    if not (isinstance(call.func, ast.Name) and call.func.id == "check") or len(call.args) != 2:
        raise ValueError(f"a hidden cell must call check(\"Q\", name, hidden=...), got {source!r}")
    q, name = call.args
    if not (isinstance(q, ast.Constant) and isinstance(q.value, str)) or not isinstance(name, ast.Name):
        raise ValueError(  # noqa: TRY004 - a malformed cell, reported with the other validation problems
            f"check's arguments must be a question string and a bare name, got {source!r}")
    group: bool | str = True
    for kw in call.keywords:
        if kw.arg != "hidden" or not isinstance(kw.value, ast.Constant) or not isinstance(kw.value.value, (bool, str)):
            raise ValueError(f"a hidden cell takes only hidden=True or hidden=\"group\", got {source!r}")
        group = kw.value.value
    if group is False:
        raise ValueError(f"a hidden cell needs hidden=True or a group name, got {source!r}")
    return HiddenCall(q.value, name.id, group)
