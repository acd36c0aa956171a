"""The Colab editions (colab/*.ipynb, course_tools.colab_edition): fresh, free of MyST, same code as the chapters."""

import io
import json
import re
import sys
from pathlib import Path

import pytest

from course_tools import colab_edition as ce

ROOT = Path(__file__).resolve().parents[2]
PAGES = ce.chapter_pages(ROOT)

#: What Colab shows as raw text: roles, directives, labelled displays, targets, raw labels, links to sources.
MYST = {
    "a role ({eq}`x`, {footcite:p}`x`, {doc}`x`)": re.compile(r"\{[\w:-]+\}`"),
    "a directive fence": re.compile(r"^[ \t>]*(?:`{3,}|:{3,})\{", re.MULTILINE),
    "a colon fence": re.compile(r"^[ \t>]*:{3,}", re.MULTILINE),
    "a directive option": re.compile(r"^[ \t>]*:(?:class|label|nonumber|name):", re.MULTILINE),
    "a labelled display": re.compile(r"\$\$[ \t]*\([\w-]+\)"),
    "a target": re.compile(r"^\([\w-]+\)=", re.MULTILINE),
    "a raw equation label": re.compile(r"\((?:ch\d+|opt)-[a-z0-9-]+\)"),
    "a link to a .md page": re.compile(r"\]\([^)\s]*\.md(?:#[^)]*)?\)"),
}


def _edition(page: str) -> dict:
    path = ce.edition_path(ROOT, page)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run `{ce.GENERATED_BY}`"
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_chapter_notebook_of_the_toc_has_a_fresh_colab_edition():
    assert len(PAGES) >= 9
    out = io.StringIO()
    stale = ce.build(ROOT, check_only=True, out=out)
    assert not stale, f"stale Colab editions (regenerate with `{ce.GENERATED_BY}`):\n{out.getvalue()}"


@pytest.mark.parametrize("page", PAGES)
def test_a_colab_edition_has_no_myst_left(page):
    nb = _edition(page)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        for what, pattern in MYST.items():
            found = pattern.search(text)
            assert found is None, f"{page} cell {i}: {what}: {text[max(0, found.start() - 60):found.end() + 40]!r}"


@pytest.mark.parametrize("page", PAGES)
def test_a_colab_edition_has_the_chapters_code_cells_in_order_without_outputs(page):
    chapter = json.loads((ROOT / f"{page}.ipynb").read_text(encoding="utf-8"))
    edition = _edition(page)

    def code(nb):
        return [("".join(c["source"]), c.get("id")) for c in nb["cells"] if c["cell_type"] == "code"]

    assert code(edition) == code(chapter)
    assert all(not c.get("outputs") for c in edition["cells"] if c["cell_type"] == "code")
    ids = [c["id"] for c in edition["cells"] if "id" in c]
    assert len(ids) == len(set(ids)), "cell ids must be unique"


def test_the_editions_are_valid_notebooks():
    import nbformat

    for page in PAGES:
        nbformat.validate(nbformat.reads(ce.edition_path(ROOT, page).read_text(encoding="utf-8"), as_version=4))


# --- the conversion, rule by rule -------------------------------------------------------------------------------

@pytest.fixture
def book(tmp_path):
    (tmp_path / "_config.yml").write_text("repository:\n  url: https://github.com/Org/repo\n")
    (tmp_path / "references.bib").write_text(
        "@article{a2020, author={Alpha, Ann and Beta, Bo and Gamma, Cy}, title={T}, year={2020}, doi={10.1/x}}\n"
        "@misc{s2018, author={Su, Jianlin}, title={{SGD}}, year={2018}, url={https://kexue.fm/archives/5655}}\n")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "exercises" / "book").mkdir(parents=True)
    (tmp_path / "exercises" / "book" / "01_x.md").write_text(
        "<!-- generated -->\n::::{exercise} 1.1 · Title\n:label: ex-1-1\n:nonumber:\n\nUse (ch1-a).\n::::\n\n"
        "::::{solution} ex-1-1\n:class: dropdown\n\nsecret\n::::\n")
    cells = [
        {"cell_type": "code", "id": "setup", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": 1},
        {"cell_type": "markdown", "id": "t", "metadata": {}, "source":
            "# 1. Title\n\n$$ a = b $$ (ch1-a)\n\nBy {eq}`ch1-a` {footcite:p}`a2020,s2018`, {footcite:t}`s2018`.\n\n"
            "(sec-x)=\n## 1.1 Part\n\n```{admonition} Careful\n:class: warning\nText $x$ (ch1-a).\n```\n\n"
            "See the [notation](notation.md) and {doc}`errata`.\n\n```{include} ../exercises/book/01_x.md\n```\n\n"
            "## References\n\n```{footbibliography}\n```"},
        {"cell_type": "code", "id": "fig", "source": "plot()", "outputs": [], "execution_count": 2,
         "metadata": {"mystnb": {"figure": {"caption": "The curve (ch1-a).", "name": "fig-x"}}}},
    ]
    (tmp_path / "chapters" / "01_x.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                                   "nbformat_minor": 5}))
    (tmp_path / "chapters" / "errata.md").write_text("# Errata\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nparts:\n  - caption: P\n    chapters:\n"
                                       "      - file: chapters/01_x\n      - file: chapters/errata\n")
    (tmp_path / "index.md").write_text("# Preface\n")
    return tmp_path


def test_conversion_numbers_equations_cites_author_year_and_quotes_directives(book):
    loaded = ce.load_book(book)
    assert loaded.url == "https://org.github.io/repo/"
    nb = ce.colab_edition(book, "chapters/01_x", loaded)
    md = nb["cells"][1]["source"]
    assert "$$ a = b \\tag{1} $$" in md
    assert "By (1) ([Alpha et al., 2020](https://org.github.io/repo/chapters/bibliography.html); [Su, 2018]" in md
    assert "[Su (2018)](https://org.github.io/repo/chapters/bibliography.html)" in md
    assert "> **Careful**\n>\n> Text $x$ (1)." in md
    assert "(sec-x)=" not in md
    assert "[notation](https://org.github.io/repo/chapters/notation.html)" in md
    assert "[Errata](https://org.github.io/repo/chapters/errata.html)" in md
    assert "> **Exercise 1.1 · Title**" in md and "> Use (1)." in md
    assert "secret" not in md, "solutions stay out of the Colab edition"
    assert "- Alpha, Beta, Gamma (2020). [T](https://doi.org/10.1/x)." in md
    assert "Colab edition of [this chapter of the book](https://org.github.io/repo/chapters/01_x.html)" in md
    assert nb["cells"][3]["source"] == "*Figure: The curve (1).*"
    assert [c["source"] for c in nb["cells"] if c["cell_type"] == "code"] == ["x = 1", "plot()"]


def test_build_writes_then_reports_fresh_and_removes_editions_of_removed_chapters(book):
    assert ce.build(book, out=io.StringIO()) == ["colab/01_x.ipynb"]
    assert ce.build(book, check_only=True, out=io.StringIO()) == []
    (book / "colab" / "old.ipynb").write_text("{}")
    assert ce.build(book, check_only=True, out=io.StringIO()) == ["colab/old.ipynb"]
    ce.build(book, out=io.StringIO())
    assert not (book / "colab" / "old.ipynb").exists()


def test_the_command_line_builds_and_checks(book, monkeypatch):
    from course_tools import colab

    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert colab.main(["build", "--root", str(book), "--check"]) == 1
    assert colab.main(["build", "--root", str(book)]) == 0
    assert colab.main(["build", "--root", str(book), "--check"]) == 0
