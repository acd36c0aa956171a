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
import sys
import threading
from pathlib import Path
from typing import Any

import nbformat

from course_tools.build import notebooks as nbx

#: Submissions larger than this are refused unread (the size is checked with ``stat`` before reading).
MAX_BYTES = 16 * 2**20
#: The most JSON containers and separators a submission may hold, counted before it is parsed; with
#: :data:`MAX_BYTES` this bounds what reading one submission costs the grader (about 100 MB at worst).
MAX_ITEMS = 1_000_000
#: Answer code longer than this is not parsed by the library-use scan (it is flagged for a look instead).
MAX_SCAN_CHARS = 100_000
# The static scan parses under this recursion limit (the interpreter's default), whatever the process
# has set: torch.compile raises the limit to 2000, and code nested 1,000-2,000 deep would then be
# scanned in one process and refused in another.
SCAN_RECURSION_LIMIT = 1000
_PARSE_LOCK = threading.Lock()
#: Strings kept from a cell's ``exercise`` metadata, and their longest length.
_META_FIELDS = ("id", "role", "question", "points", "kind", "set")

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
    general: list[str] = dataclasses.field(default_factory=list)

    @property
    def deleted(self) -> dict[str, str]:
        """Questions whose answer cell can't be graded, with the reason (kept for the old name)."""
        return self.blocked


def _text(source: Any) -> str:
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def read_file(path: str | Path) -> tuple[bytes | None, str]:
    """A submitted file's bytes, or (None, why not): never follows a symbolic link, and checks the size
    (``fstat`` of the opened file) before reading at most :data:`MAX_BYTES` + 1 bytes."""
    import os

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        if os.path.islink(path):
            return None, "the file is a symbolic link, not a notebook (hand in the notebook itself)"
        return None, f"cannot read the file ({type(err).__name__}: {err.strerror})"
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > MAX_BYTES:
            return None, f"the file is {info.st_size / 2**20:.0f} MB, over the limit of {MAX_BYTES // 2**20} MB"
        chunks, left = [], MAX_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > MAX_BYTES:
            return None, f"the file is over the limit of {MAX_BYTES // 2**20} MB"
        return data, ""
    except OSError as err:
        return None, f"cannot read the file ({type(err).__name__}: {err.strerror})"
    finally:
        os.close(fd)


def _clean_meta(value: Any) -> dict[str, Any]:
    """A cell's metadata reduced to what the grader reads: ``exercise`` (short scalar fields) and tags.

    Whatever the submission's metadata holds (wrong types, deep nesting), the result is small and flat.
    """
    out: dict[str, Any] = {}
    if not isinstance(value, dict):
        return out
    exercise = value.get(nbx.META)
    if isinstance(exercise, dict):
        kept = {k: v if not isinstance(v, str) else v[:200] for k, v in exercise.items()
                if k in _META_FIELDS and type(v) in (str, int, float, bool)}
        if kept:
            out[nbx.META] = kept
    tags = value.get("tags")
    if isinstance(tags, list):
        out["tags"] = [t[:100] for t in tags[:50] if isinstance(t, str)]
    return out


def read_bytes(data: bytes) -> tuple[nbformat.NotebookNode | None, str, list[str]]:
    """Parse a submission's bytes: (notebook, "", notes) or (None, the reason, notes).

    Never raises: a file too large, with too many JSON items, nested too deeply or of the wrong shape is
    refused with its reason; metadata is reduced to what the grader reads (see :func:`_clean_meta`).
    """
    try:
        return _read_bytes(data)
    except (RecursionError, MemoryError) as err:
        return None, f"not a valid notebook file: it is nested too deeply or too large to read ({type(err).__name__})", []
    except Exception as err:  # noqa: BLE001 - any damage costs this submission only
        return None, f"not a valid notebook file ({type(err).__name__}: {str(err)[:100]})", []


def _read_bytes(data: bytes) -> tuple[nbformat.NotebookNode | None, str, list[str]]:
    notes: list[str] = []
    if len(data) > MAX_BYTES:
        return None, f"the file is {len(data) // 2**20} MB, over the limit of {MAX_BYTES // 2**20} MB", notes
    items = sum(data.count(c) for c in (b"[", b"{", b",", b":"))
    if items > MAX_ITEMS:
        return None, f"the file holds {items} JSON items, over the limit of {MAX_ITEMS}", notes
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
    except RecursionError:
        return None, "not a valid notebook file: its JSON is nested too deeply", notes
    except json.JSONDecodeError as err:
        return None, (f"not a valid notebook file: it is not valid JSON (broken at line {err.lineno}: {err.msg}; "
                      f"truncated, or edited outside Jupyter?)"), notes
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        reason = "an old nbformat 3 notebook" if isinstance(raw, dict) and "worksheets" in raw else "no cell list"
        return None, f"not a valid notebook file ({reason})", notes
    unknown = sorted(str(k)[:40] for k in set(raw) - _NOTEBOOK_KEYS)
    if unknown:
        notes.append(f"repaired: unknown top-level key(s) {', '.join(map(repr, unknown[:5]))} ignored")
    cells, dropped_keys, dropped_cells = [], set(), 0
    for cell in raw["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            dropped_cells += 1
            continue
        dropped_keys |= {str(k)[:40] for k in set(cell) - _CELL_KEYS}
        metadata = _clean_meta(cell.get("metadata"))
        source = _text(cell.get("source"))
        if cell["cell_type"] == "code":
            cells.append(nbformat.v4.new_code_cell(source, metadata=metadata))
        elif cell["cell_type"] == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(source, metadata=metadata))
        else:
            cells.append(nbformat.v4.new_raw_cell(source, metadata=metadata))
    if dropped_keys:
        notes.append(f"repaired: unknown cell key(s) {', '.join(map(repr, sorted(dropped_keys)[:5]))} ignored")
    if dropped_cells:
        notes.append(f"repaired: {dropped_cells} cell(s) of no known type ignored")
    return nbformat.v4.new_notebook(cells=cells, metadata=_clean_meta(raw.get("metadata"))), "", notes


def load(path: str | Path) -> tuple[nbformat.NotebookNode | None, str]:
    """Read a submission file; returns (notebook, "") or (None, the reason it can't be read)."""
    data, problem = read_file(path)
    if data is None:
        return None, problem
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
    general: list[str] = []
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
            mine = submitted.get(cid) if r == "given" else None  # the set-up cell only installs the library
            if mine is not None and mine.cell_type == "code" and mine.source.strip() != cell.source.strip():
                steps.append(Step(f"your edited copy of {cid!r}", mine.source))
                general.append(f"note: you edited the given cell {cid!r}; it ran as handed out, then your "
                               f"version right after it")
        steps += [Step(f"your extra cell after {cid!r}", x.source) for x in extras.get(cid, [])]
    code[""] = "\n\n".join(x.source for group in extras.values() for x in group)
    hidden = [c for c in source_nb.cells if nbx.role(c) == "hidden" and question_of[nbx.cell_id(c)] not in blocked]
    return Plan(steps, hidden, blocked, notes, manual, code, general)


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _parse(source: str) -> ast.Module:
    """``ast.parse`` under :data:`SCAN_RECURSION_LIMIT`, so that what is refused does not depend on the process."""
    with _PARSE_LOCK:
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(SCAN_RECURSION_LIMIT)
        try:
            return ast.parse(source)
        finally:
            sys.setrecursionlimit(previous)


def library_calls(source: str, forbidden: list[str]) -> list[str]:
    """The ``forbidden`` library functions (dotted names) that ``source`` imports or names (a static scan).

    Catches ``from course_lib.dynamics.ode import gradient_descent``, ``import course_lib.dynamics.ode as o; o.gradient_descent``,
    ``from course_lib.dynamics import ode; ode.gradient_descent`` and a string holding the module with the name;
    deliberate obfuscation gets past it (the grader also counts calls at run time). Code longer than
    :data:`MAX_SCAN_CHARS` is not parsed (see :func:`scan_refused`), nor is code nested too deeply to parse.
    """
    if len(source) > MAX_SCAN_CHARS:
        return []
    try:
        tree = _parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
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


def scan_refused(source: str) -> str:
    """Why :func:`library_calls` could not scan ``source`` ('' when it could)."""
    if len(source) > MAX_SCAN_CHARS:
        return f"the code is {len(source) // 1000} kB, over the scan's limit of {MAX_SCAN_CHARS // 1000} kB"
    try:
        _parse(source)
    except SyntaxError:
        return ""
    except (ValueError, RecursionError, MemoryError) as err:
        return f"the code can't be parsed ({type(err).__name__}: nested too deeply?)"
    return ""
