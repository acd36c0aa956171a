"""Read a submitted notebook tolerantly, match it to its source, and plan what the grader runs.

Reading never executes anything. Damage a student can't see is repaired with a note: a byte-order mark,
bytes that are not UTF-8 (read as Latin-1), unknown keys. Only a file that is not JSON at all (e.g.
truncated) is refused.

The plan follows the source notebook, not the submission: given cells come from the source (a student
can't break them), each answer cell is the student's cell with the same ``metadata.exercise.id``, and
cells the student added run right after the cell they follow in the submission. So reordered cells are
graded in the book's order (and noted), a deleted answer cell costs only its own question, a
duplicated answer cell is graded by its last copy (noted), and an answer cell turned into Markdown is
named as such.
"""

from __future__ import annotations

import ast
import codecs
import dataclasses
import json
from pathlib import Path
from typing import Any

import nbformat

from course_tools.build import notebooks as nbx

#: Submissions larger than this are refused unread.
MAX_BYTES = 32 * 2**20

_NOTEBOOK_KEYS = {"cells", "metadata", "nbformat", "nbformat_minor"}
_CELL_KEYS = {"cell_type", "source", "metadata", "outputs", "execution_count", "id", "attachments"}


def _latin1_fallback(err: UnicodeDecodeError) -> tuple[str, int]:
    return err.object[err.start : err.end].decode("latin-1"), err.end


codecs.register_error("course-latin1", _latin1_fallback)


@dataclasses.dataclass
class Step:
    """One code cell to run: ``label`` names it in messages (a cell id, or "your extra cell after <id>")."""

    label: str
    source: str
    question: str = ""


@dataclasses.dataclass
class Plan:
    """What to run for one submission, and what was found wrong with its cells.

    ``blocked`` maps a question whose answer can't be graded (deleted, turned into Markdown) to the reason;
    ``deleted`` is the old name for it.
    """

    steps: list[Step]
    hidden: list[nbformat.NotebookNode]
    blocked: dict[str, str]
    notes: dict[str, list[str]]
    manual_answers: dict[str, str]
    code: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def deleted(self) -> dict[str, str]:
        """Questions whose answer cell can't be graded, with the reason (kept for the old name)."""
        return self.blocked


def _text(source: Any) -> str:
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def read_bytes(data: bytes) -> tuple[nbformat.NotebookNode | None, str, list[str]]:
    """Parse a submission's bytes: (notebook, "", notes) or (None, the reason, notes)."""
    notes: list[str] = []
    if len(data) > MAX_BYTES:
        return None, f"the file is {len(data) // 2**20} MB, over the limit of {MAX_BYTES // 2**20} MB", notes
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        notes.append("repaired: the file started with a byte-order mark (removed)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        text = data.decode("utf-8", errors="course-latin1")
        notes.append(f"repaired: the file is not valid UTF-8 (first bad byte {data[err.start]:#04x} at offset "
                     f"{err.start}); such bytes were read as Latin-1")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        return None, (f"not a valid notebook file: it is not valid JSON (broken at line {err.lineno}: {err.msg}; "
                      f"truncated, or edited outside Jupyter?)"), notes
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        reason = "an old nbformat 3 notebook" if isinstance(raw, dict) and "worksheets" in raw else "no cell list"
        return None, f"not a valid notebook file ({reason})", notes
    unknown = sorted(set(raw) - _NOTEBOOK_KEYS)
    if unknown:
        notes.append(f"repaired: unknown top-level key(s) {', '.join(map(repr, unknown))} ignored")
    cells, dropped_keys, dropped_cells = [], set(), 0
    for cell in raw["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            dropped_cells += 1
            continue
        dropped_keys |= set(cell) - _CELL_KEYS
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        source = _text(cell.get("source"))
        if cell["cell_type"] == "code":
            cells.append(nbformat.v4.new_code_cell(source, metadata=metadata))
        elif cell["cell_type"] == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(source, metadata=metadata))
        else:
            cells.append(nbformat.v4.new_raw_cell(source, metadata=metadata))
    if dropped_keys:
        notes.append(f"repaired: unknown cell key(s) {', '.join(map(repr, sorted(dropped_keys)))} ignored")
    if dropped_cells:
        notes.append(f"repaired: {dropped_cells} cell(s) of no known type ignored")
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    return nbformat.v4.new_notebook(cells=cells, metadata=metadata), "", notes


def load(path: str | Path) -> tuple[nbformat.NotebookNode | None, str]:
    """Read a submission file; returns (notebook, "") or (None, the reason it can't be read)."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        return None, f"cannot read the file ({type(err).__name__}: {err})"
    nb, problem, _ = read_bytes(data)
    return nb, problem


def make_plan(source_nb: nbformat.NotebookNode, submission_nb: nbformat.NotebookNode) -> Plan:
    """The cells to run for ``submission_nb`` (see the module docstring) and what is wrong with its cells."""
    source_ids = [nbx.cell_id(c) for c in source_nb.cells]
    source_by_id = {nbx.cell_id(c): c for c in source_nb.cells}
    answer_ids = [nbx.cell_id(c) for c in source_nb.cells if nbx.role(c) == "answer"]
    question_of = {nbx.cell_id(c): str(nbx.meta(c).get("question", "")) for c in source_nb.cells}
    submitted: dict[str, nbformat.NotebookNode] = {}
    copies: dict[str, int] = {}
    extras: dict[str, list[nbformat.NotebookNode]] = {}
    anchor = source_ids[0]
    for cell in submission_nb.cells:
        cid = nbx.cell_id(cell)
        if cid in source_ids:
            submitted[cid] = cell  # the last copy wins
            copies[cid] = copies.get(cid, 0) + 1
            anchor = cid
        elif cell.cell_type == "code" and cell.source.strip():
            extras.setdefault(anchor, []).append(cell)

    notes: dict[str, list[str]] = {}
    blocked: dict[str, str] = {}
    for a in answer_ids:
        q = question_of[a]
        if a not in submitted:
            blocked[q] = (f"the answer cell {a!r} is missing (deleted, or its metadata was lost), so question {q} "
                          f"can't be graded")
            continue
        if copies[a] > 1:
            notes.setdefault(q, []).append(f"note: the answer cell {a!r} appears {copies[a]} times; the last copy "
                                           f"was graded")
        want, got = source_by_id[a].cell_type, submitted[a].cell_type
        if want == "code" and got != "code":
            blocked[q] = (f"your answer cell {a!r} is a {got.capitalize()} cell, so it never runs; change it back "
                          f"to a Code cell (Jupyter: press Y; Colab: Ctrl+M Y)")
        elif want == "markdown" and got != "markdown":
            notes.setdefault(q, []).append(f"note: your answer cell {a!r} was turned into a {got} cell; its text "
                                           f"is graded as written")
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
    code: dict[str, str] = {}
    for cell in source_nb.cells:
        cid, r = nbx.cell_id(cell), nbx.role(cell)
        if r == "answer":
            mine = submitted.get(cid)
            q = question_of[cid]
            if mine is not None and cell.cell_type == "markdown":
                manual[q] = mine.source
            elif mine is not None and q not in blocked:
                steps.append(Step(cid, mine.source, q))
                code[q] = mine.source
        elif cell.cell_type == "code" and r in ("setup", "given"):
            steps.append(Step(cid, cell.source))
        steps += [Step(f"your extra cell after {cid!r}", x.source) for x in extras.get(cid, [])]
    code[""] = "\n\n".join(x.source for group in extras.values() for x in group)
    hidden = [c for c in source_nb.cells if nbx.role(c) == "hidden" and question_of[nbx.cell_id(c)] not in blocked]
    return Plan(steps, hidden, blocked, notes, manual, code)


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def library_calls(source: str, forbidden: list[str]) -> list[str]:
    """The ``forbidden`` library functions (dotted names) that ``source`` imports or names (a static scan).

    Catches ``from course_lib.dynamics.ode import gradient_descent``, ``import course_lib.dynamics.ode as o; o.gradient_descent``,
    ``from course_lib.dynamics import ode; ode.gradient_descent`` and a string holding the module with the name;
    deliberate obfuscation gets past it (the grader also counts calls at run time).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    imported: dict[str, str] = {}  # local name -> dotted module or object
    names_used: set[str] = set()
    strings: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Attribute):
            names_used.add(_dotted(node))
        elif isinstance(node, ast.Name):
            names_used.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append(node.value)
    found = []
    for dotted in forbidden:
        module, _, attr = dotted.rpartition(".")
        hit = any(target == dotted for target in imported.values())
        for used in names_used:
            head, _, rest = used.partition(".")
            full = f"{imported[head]}.{rest}" if head in imported and rest else imported.get(head, used)
            hit = hit or full == dotted
        hit = hit or any(module in s for s in strings) and any(attr in s for s in strings)
        if hit:
            found.append(dotted)
    return found
