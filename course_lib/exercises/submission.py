"""Match a submitted notebook to its source and plan what the grader runs, in which order.

The plan follows the source notebook, not the submission: given cells come from the source (a student
can't break them), each answer cell is the student's cell with the same ``metadata.exercise.id``, and
cells the student added run right after the cell they follow in the submission. So reordered cells are
graded in the book's order (and noted), and a deleted answer cell costs only its own question.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import nbformat

from course_lib.exercises import notebooks as nbx


@dataclasses.dataclass
class Step:
    """One code cell to run: ``label`` names it in messages (a cell id, or "your extra cell after <id>")."""

    label: str
    source: str
    question: str = ""


@dataclasses.dataclass
class Plan:
    """What to run for one submission, and what was found wrong with its cells."""

    steps: list[Step]
    hidden: list[nbformat.NotebookNode]
    deleted: dict[str, str]
    notes: dict[str, list[str]]
    manual_answers: dict[str, str]


def load(path: str | Path) -> tuple[nbformat.NotebookNode | None, str]:
    """Read a submission; returns (notebook, "") or (None, the reason it is not a valid notebook)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except (OSError, UnicodeDecodeError) as err:
        return None, f"cannot read the file ({type(err).__name__}: {err})"
    except json.JSONDecodeError as err:
        return None, f"not a valid notebook file: its JSON is broken at line {err.lineno} ({err.msg})"
    except nbformat.reader.NotJSONError:
        return None, "not a valid notebook file: it is not valid JSON (truncated, or edited outside Jupyter?)"
    except Exception as err:  # noqa: BLE001 - nbformat raises several types
        return None, f"not a valid notebook file ({type(err).__name__}: {str(err).splitlines()[0][:200]})"
    return nb, ""


def make_plan(source_nb: nbformat.NotebookNode, submission_nb: nbformat.NotebookNode) -> Plan:
    """The cells to run for ``submission_nb`` (see the module docstring) and its deleted/reordered cells."""
    source_ids = [nbx.cell_id(c) for c in source_nb.cells]
    answer_ids = [nbx.cell_id(c) for c in source_nb.cells if nbx.role(c) == "answer"]
    submitted: dict[str, nbformat.NotebookNode] = {}
    extras: dict[str, list[nbformat.NotebookNode]] = {}
    anchor = source_ids[0]
    for cell in submission_nb.cells:
        cid = nbx.cell_id(cell)
        if cid in source_ids:
            submitted.setdefault(cid, cell)
            anchor = cid
        elif cell.cell_type == "code" and cell.source.strip():
            extras.setdefault(anchor, []).append(cell)

    question_of = {nbx.cell_id(c): str(nbx.meta(c).get("question", "")) for c in source_nb.cells}
    deleted = {question_of[a]: f"the answer cell {a!r} is missing (deleted, or its metadata was lost), so "
               f"question {question_of[a]} can't be graded" for a in answer_ids if a not in submitted}
    notes: dict[str, list[str]] = {}
    order = list(dict.fromkeys(cid for cid in (nbx.cell_id(c) for c in submission_nb.cells) if cid in answer_ids))
    expected = [a for a in answer_ids if a in order]
    for position, (got, want) in enumerate(zip(order, expected, strict=True)):
        if got != want:
            notes.setdefault(question_of[got], []).append(
                f"note: the answer cells were reordered ({got!r} is at answer position {position + 1}, "
                f"expected {expected.index(got) + 1}); graded in the original order"
            )

    steps: list[Step] = []
    manual: dict[str, str] = {}
    for cell in source_nb.cells:
        cid, r = nbx.cell_id(cell), nbx.role(cell)
        if r == "answer":
            mine = submitted.get(cid)
            if mine is not None and cell.cell_type == "markdown":
                manual[question_of[cid]] = mine.source
            elif mine is not None and mine.cell_type == "code":
                steps.append(Step(cid, mine.source, question_of[cid]))
        elif cell.cell_type == "code" and r in ("setup", "given"):
            steps.append(Step(cid, cell.source))
        steps += [Step(f"your extra cell after {cid!r}", x.source) for x in extras.get(cid, [])]
    hidden = [c for c in source_nb.cells if nbx.role(c) == "hidden" and question_of[nbx.cell_id(c)] not in deleted]
    return Plan(steps, hidden, deleted, notes, manual)
