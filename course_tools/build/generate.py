"""Generate, from the source notebooks, the student and solution notebooks and the book's markdown.

``python -m course_tools build`` writes them; ``build --check`` writes nothing and lists the files
that are missing, out of date or left over (the test suite runs it, so committed files never go stale).
"""

from __future__ import annotations

from pathlib import Path

from course_tools.build import book
from course_tools.build import notebooks as nbx
from course_tools.colab import repository_config, repository_url, setup_cell_source

SOURCE_DIR, STUDENT_DIR, SOLUTION_DIR, BOOK_DIR = "exercises/source", "exercises/student", "exercises/solutions", \
    "exercises/book"


def find_root(start: str | Path = ".") -> Path:
    """The repository root: the nearest folder at or above ``start`` holding ``_config.yml`` and ``exercises``."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / SOURCE_DIR).is_dir():
            return folder
    raise FileNotFoundError(f"no repository root (with _config.yml and {SOURCE_DIR}/) at or above {here}")


def sources(root: Path) -> list[Path]:
    """The source notebooks, ``exercises/source/NN_*.ipynb``, in chapter order."""
    return sorted((root / SOURCE_DIR).glob("[0-9][0-9]_*.ipynb"))


def chapter_of(path: Path) -> int:
    """The chapter number from a file name such as ``01_gradient_descent_ode.ipynb``."""
    return int(path.name[:2])


def _branch(root: Path) -> str:
    return str(repository_config(root / "_config.yml").get("branch") or "main")


def expected_files(root: Path) -> dict[Path, str]:
    """Every generated file and its expected content. Raises ValueError if a source notebook is invalid."""
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
        out[root / student_rel] = nbx.dumps(nbx.make_version(nb, "student"))
        out[root / SOLUTION_DIR / path.name] = nbx.dumps(nbx.make_version(nb, "solution"))
        out[root / BOOK_DIR / f"{path.stem}.md"] = book.book_markdown(
            nb, f"{SOURCE_DIR}/{path.name}", book.colab_url(url, _branch(root), student_rel),
            f"{SOLUTION_DIR}/{path.name}",
        )
    return out


def stale_files(root: Path) -> list[str]:
    """Generated files that are missing, differ from what the sources give, or have no source (relative paths)."""
    expected = expected_files(root)
    stale = [p for p, text in expected.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    for folder, pattern in ((STUDENT_DIR, "*.ipynb"), (SOLUTION_DIR, "*.ipynb"), (BOOK_DIR, "*.md")):
        stale += [p for p in (root / folder).glob(pattern) if p not in expected]
    return sorted(str(p.relative_to(root)) for p in stale)


def build(root: Path) -> list[str]:
    """Write every generated file whose content changed; remove leftovers. Returns the paths it touched."""
    touched = stale_files(root)
    expected = expected_files(root)
    for rel in touched:
        path = root / rel
        if path in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[path], encoding="utf-8")
        else:
            path.unlink()
    return touched
