"""The book's view of an exercise set: MyST markdown with sphinx-exercise blocks and gated solutions.

The chapter page includes the generated file (``exercises/book/NN_*.md``) under its ``## Exercises``
heading, so the file has no headings of its own: one ``{exercise}`` block per question (labelled
``ex-1-2``) and one ``{solution}`` block for it, folded in a dropdown.
"""

from __future__ import annotations

from course_tools.build import notebooks as nbx

_KIND_WORD = {"implement": "Implement", "predict": "Predict, then verify", "explain": "Explain"}


def colab_url(repository_url: str, branch: str, path: str) -> str:
    """The Colab address that opens ``path`` of a GitHub repository."""
    repo = repository_url.removeprefix("https://github.com/").removesuffix("/").removesuffix(".git")
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"


def sibling_url(url: str, path: str) -> str:
    """The address of ``path`` in the same repository and branch as the Colab or GitHub ``url`` of a file.

    ``url`` is ``…/github/OWNER/REPO/blob/BRANCH/<file>`` (Colab) or ``https://github.com/OWNER/REPO/blob/
    BRANCH/<file>``; the result keeps everything up to ``BRANCH/`` and appends ``path``.
    """
    import re

    match = re.match(r"^(https://[^ ]*?/[^/ ]+/[^/ ]+/blob/[^/ ]+/)", url)
    if match is None:
        raise ValueError(f"not the address of a file in a repository branch: {url!r}")
    return match.group(1) + path.lstrip("/")


def _code_block(source: str) -> str:
    return f"```python\n{source.strip()}\n```"


def _answer_text(cell, version: str) -> str:
    if version == "student":
        return nbx.strip_solutions(cell.source, cell.cell_type, str(nbx.meta(cell).get("question", "")))
    return nbx.remove_markers(cell.source, cell.cell_type)


def read_first(question: str, chapter_url: str = "") -> str:
    """"Read first: §6.5 Title …" for a question (the section declared with ``see``; '' when none).

    In the book (``chapter_url`` empty) the equation is a ``{eq}`` reference, shown as its number; in a
    notebook the section links the chapter (which opens in Colab) and the equation is not named.
    """
    from course_lib.exercises.registry import questions
    from course_lib.exercises.spec import section_of

    questions()  # imports the chapter modules, which declare the sections
    section = section_of(question)
    if section is None:
        return ""
    if chapter_url:
        return f"*Read first:* [§{section.number} {section.title}]({chapter_url}) in the chapter."
    equation = f", and equation {{eq}}`{section.equation}`" if section.equation else ""
    return f"*Read first:* §{section.number} {section.title}{equation}."


def exercise_markdown(ex: nbx.Exercise, solutions: bool = True) -> str:
    """The ``{exercise}`` block and (with ``solutions``) its ``{solution}`` block for one exercise."""
    h = ex.header
    lines = [
        # rendered "Exercise 1.1 · Title" (_ext/page_fixes.py drops sphinx-exercise's parentheses)
        f"::::{{exercise}} {h.question} · {h.title}",
        f":label: {ex.label}",
        ":nonumber:",
        "",
        f"**{_KIND_WORD[ex.kind]}** · {h.points} points · difficulty {h.difficulty} · about {h.minutes} min",
        "",
        ex.task,
        "",
    ]
    first = read_first(h.question)
    if first:
        lines += [first, ""]
    for cell in ex.answers:
        if cell.cell_type == "code":
            lines += ["In the notebook, complete:", "", _code_block(_answer_text(cell, "student")), ""]
    for cell in ex.checks:
        lines += ["Then check it with", "", _code_block(cell.source), ""]
    if ex.kind == "explain":
        lines += ["Your instructor grades this one by hand.", ""]
    if not solutions:
        return "\n".join([*lines, "::::", ""])
    lines += ["::::", "", f"::::{{solution}} {ex.label}", ":class: dropdown", ""]
    for cell in ex.answers:
        if cell.cell_type == "code":
            lines += [_code_block(_answer_text(cell, "solution")), ""]
        else:
            text = _answer_text(cell, "solution").replace("**Your answer:**", "").strip()
            lines += ["*A model answer:*", "", text, ""]
    lines += ["::::", ""]
    return "\n".join(lines)


def book_markdown(source_nb, source_path: str, student_url: str, solution_path: str, solutions: bool = True) -> str:
    """The whole ``exercises/book/NN_*.md`` text for one source notebook (``solutions=False``: without the
    solutions and without the link to the solution notebook, for graded assignments)."""
    found = nbx.exercises(source_nb)
    total = sum(ex.header.points for ex in found)
    manual = sum(ex.header.points for ex in found if ex.kind == "explain")
    intro = [
        f"<!-- Generated from {source_path} by `python -m course_tools build`; do not edit by hand. -->",
        "",
        (f"Work on these exercises in the [student notebook]({student_url}) (it opens in Colab). It checks your "
        f"answers as you go: `check(\"{found[0].question}\", ...)` runs your code against the course's reference "
        f"on fresh random inputs and says what is wrong, if anything. The set is worth {total} points, "
        f"{manual} of them graded by hand. "
        + (f"The solutions below are folded; try first. The full solution notebook is [{solution_path}]"
           f"({sibling_url(student_url, solution_path)}) (opens in Colab)." if solutions else
           "These exercises are graded: your instructor publishes the solutions after the deadline.")),
        "",
    ]
    return "\n".join(intro) + "\n" + "\n".join(exercise_markdown(ex, solutions) for ex in found).rstrip() + "\n"
