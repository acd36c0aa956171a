"""Generate, from the source notebooks, the student and solution notebooks and the book's markdown.

``python -m course_tools build`` writes them; ``build --check`` writes nothing and lists the files
that are missing, out of date or left over (the test suite runs it, so committed files never go stale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from course_tools.build import book
from course_tools.build import notebooks as nbx
from course_tools.colab import repository_config, repository_url, setup_cell_source

SOURCE_DIR, STUDENT_DIR, SOLUTION_DIR, BOOK_DIR = "exercises/source", "exercises/student", "exercises/solutions", \
    "exercises/book"


def find_root(start: str | Path | None = None) -> Path:
    """The course folder: ``start`` if given (it must hold ``exercises/source``), else ``$COURSE_ROOT``,
    else the nearest folder at or above the current one holding ``_config.yml`` and ``exercises/source``.

    So ``grade`` works from an installed package too: ``--root /path/to/course`` (a clone or download of
    the course's repository, which holds the source notebooks) or ``export COURSE_ROOT=/path/to/course``.
    """
    import os

    given = start if start is not None else os.environ.get("COURSE_ROOT") or None
    if given is not None:
        folder = Path(given).expanduser().resolve()
        if (folder / SOURCE_DIR).is_dir():
            return folder
        raise FileNotFoundError(f"{folder} holds no {SOURCE_DIR}/ (the source notebooks): pass the course's folder")
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / SOURCE_DIR).is_dir():
            return folder
    raise FileNotFoundError(f"no course folder (with {SOURCE_DIR}/) at or above {here}: pass --root "
                            f"/path/to/the/course (a clone of its repository) or set COURSE_ROOT")


def sources(root: Path) -> list[Path]:
    """The source notebooks, ``exercises/source/NN_*.ipynb``, in chapter order."""
    return sorted((root / SOURCE_DIR).glob("[0-9][0-9]_*.ipynb"))


def chapter_of(path: Path) -> int:
    """The chapter number from a file name such as ``01_gradient_descent_ode.ipynb``."""
    return int(path.name[:2])


def _branch(root: Path) -> str:
    return str(repository_config(root / "_config.yml").get("branch") or "main")


#: The environment variable that leaves the solutions out of the published book (``hide``); see
#: :func:`solutions_published`.
SOLUTIONS_ENV = "COURSE_SOLUTIONS"


def solutions_published(flag: bool | None = None) -> bool:
    """Whether the book shows the solutions: ``flag`` if given (``build --no-solutions`` passes False),
    else False when ``$COURSE_SOLUTIONS`` is ``hide`` (or ``0``/``no``/``off``), else True.

    Without solutions, the book's exercise blocks have no solution dropdown and no link to a solution
    notebook, and ``exercises/solutions`` is not generated (``build`` removes it): for graded assignments.
    """
    import os

    if flag is not None:
        return flag
    return os.environ.get(SOLUTIONS_ENV, "").strip().lower() not in ("hide", "0", "no", "off", "false")


def expected_files(root: Path, solutions: bool | None = None) -> dict[Path, str]:
    """Every generated file and its expected content. Raises ValueError if a source notebook is invalid.

    ``solutions`` (default: :func:`solutions_published`) False leaves the solutions out of the book and
    the solution notebooks out of the generated files.
    """
    solutions = solutions_published(solutions)
    url = repository_url(root / "_config.yml")
    setup = setup_cell_source(url)
    out: dict[Path, str] = {}
    for path in sources(root):
        nb = nbx.read(path)
        nb.metadata[nbx.META] = {**nb.metadata.get(nbx.META, {}), "set": path.stem}
        problems = nbx.validate(nb, setup, chapter_of(path))
        if problems:
            raise ValueError(f"{path.relative_to(root)}:\n  " + "\n  ".join(problems))
        student_rel = f"{STUDENT_DIR}/{path.name}"
        chapter = book.colab_url(url, _branch(root), f"chapters/{path.name}")
        out[root / student_rel] = nbx.dumps(_with_sections(nbx.make_version(nb, "student"), chapter))
        if solutions:
            out[root / SOLUTION_DIR / path.name] = nbx.dumps(_with_sections(nbx.make_version(nb, "solution"), chapter))
        out[root / BOOK_DIR / f"{path.stem}.md"] = book.book_markdown(
            nb, f"{SOURCE_DIR}/{path.name}", book.colab_url(url, _branch(root), student_rel),
            f"{SOLUTION_DIR}/{path.name}", solutions=solutions,
        )
    return out


def _with_sections(nb: Any, chapter_url: str) -> Any:
    """Each exercise's header cell ends with the chapter section it rests on, linked (see ``spec.see``)."""
    for cell in nb.cells:
        if nbx.role(cell) == "header":
            first = book.read_first(str(nbx.meta(cell).get("question", "")), chapter_url)
            if first and first not in cell.source:
                cell.source = cell.source.rstrip() + "\n\n" + first
    return nb


def stale_files(root: Path, solutions: bool | None = None) -> list[str]:
    """Generated files that are missing, differ from what the sources give, or have no source (relative paths)."""
    expected = expected_files(root, solutions)
    stale = [p for p, text in expected.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    for folder, pattern in ((STUDENT_DIR, "*.ipynb"), (SOLUTION_DIR, "*.ipynb"), (BOOK_DIR, "*.md")):
        stale += [p for p in (root / folder).glob(pattern) if p not in expected]
    return sorted(str(p.relative_to(root)) for p in stale)


def build(root: Path, solutions: bool | None = None) -> list[str]:
    """Write every generated file whose content changed; remove leftovers. Returns the paths it touched."""
    touched = stale_files(root, solutions)
    expected = expected_files(root, solutions)
    for rel in touched:
        path = root / rel
        if path in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path], encoding="utf-8")
        else:
            path.unlink()
    return touched
