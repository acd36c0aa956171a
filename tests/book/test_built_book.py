"""Checks of the built HTML book (run by `make test` right after the build; skipped otherwise).

Set COURSE_BUILT_BOOK to the html folder (e.g. _build/html) to run them.
"""

import os
import re
from pathlib import Path

import pytest

from course_tools.colab import repository_url

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("COURSE_BUILT_BOOK", ""))
pytestmark = pytest.mark.skipif(
    not os.environ.get("COURSE_BUILT_BOOK"), reason="set COURSE_BUILT_BOOK=_build/html after building the book"
)
if HTML and not HTML.is_absolute():
    HTML = ROOT / HTML


def _page(name: str) -> str:
    path = HTML / name
    assert path.is_file(), f"{path} was not built"
    return path.read_text(encoding="utf-8")


def test_index_shows_the_preface_and_links_notation_and_bibliography():
    index = _page("index.html")
    assert "<h1>Preface" in index, "index.html must be the preface itself, not a redirect"
    assert "chapters/notation.html" in index and "chapters/bibliography.html" in index


def test_math_is_typeset_offline_by_the_mathjax_copy_in_the_book():
    page = _page("chapters/notation.html")
    assert re.search(r"\\\(|\\\[|class=\"math", page), "no math found on the notation page"
    # (a build over an earlier one finds the file in _static and adds Sphinx's "?v=<checksum>")
    assert re.search(r'src="\.\./_static/mathjax/tex-chtml\.js(\?v=[0-9a-f]+)?"', page), \
        "MathJax must come from the book, not a CDN"
    assert (HTML / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert (HTML / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()


def test_bibliography_lists_the_required_papers():
    page = _page("chapters/bibliography.html")
    for name in ["Polyak", "Nesterov", "Sutskever", "Boulanger-Lewandowski", "Duchi", "Tieleman", "Zeiler",
                 "Kingma", "Reddi", "Dozat", "Loshchilov", "Mandt", "Tai", "Kindermans"]:
        assert name in page, f"{name} missing from the bibliography"


@pytest.mark.parametrize("notebook", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_notebook_page_has_a_colab_button_for_the_configured_repository(notebook):
    page = _page(f"chapters/{notebook.stem}.html")
    repo = repository_url(ROOT / "_config.yml").removeprefix("https://github.com/")
    expected = f"https://colab.research.google.com/github/{repo}/blob/main/colab/{notebook.name}"
    assert expected in page, f"no Colab button pointing at the Colab edition {expected}"
    assert f"/blob/main/chapters/{notebook.name}" not in page, "a Colab link still opens the MyST source"


@pytest.mark.parametrize("notebook", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_the_executed_notebook_is_downloadable_with_its_outputs(notebook):
    import json

    page = _page(f"chapters/{notebook.stem}.html")
    assert f"_executed/chapters/{notebook.name}" in page, "no download entry for the executed notebook"
    executed = json.loads((HTML / "_executed" / "chapters" / notebook.name).read_text(encoding="utf-8"))
    assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code"), "it has no outputs"


@pytest.mark.parametrize("notebook", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_no_error_and_no_stderr_is_printed_in_a_pages_outputs(notebook):
    """An error (even one raised while a figure is displayed, after its cell ran, which the build does not
    stop on), anything on stderr (torch's "W1206 … No CUDA runtime is found", a deprecation) or a
    "…Warning:" line is noise or worse to a reader: fix or silence it at its source."""
    import json

    executed = json.loads((HTML / "_executed" / "chapters" / notebook.name).read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(executed["cells"]):
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            text = "".join(output.get("text", "")) if kind == "stream" else ""
            if kind == "error":
                found.append(f"cell {i}: error {output.get('ename')}: {output.get('evalue', '')[:120]!r}")
            elif output.get("name") == "stderr" or re.search(r"\b\w+Warning:|Traceback \(most recent", text):
                found.append(f"cell {i}: {text.strip()[:160]!r}")
            plain = "".join((output.get("data") or {}).get("text/plain", ""))
            if "Traceback (most recent" in plain:
                found.append(f"cell {i}: a traceback in a displayed value")
    page = _page(f"chapters/{notebook.stem}.html")
    found += [f"the page shows an output of class {c!r}"
              for c in re.findall(r'class="output (traceback|stderr)\b', page)]
    assert not found, f"{notebook.name}: errors, stderr or warnings in the outputs:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("notebook", sorted((ROOT / "chapters").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_pages_hide_the_setup_cell_and_show_executed_outputs(notebook):
    page = _page(f"chapters/{notebook.stem}.html")
    assert "find_spec(&quot;course_lib&quot;)" not in page and 'find_spec("course_lib")' not in page
    assert "cell_output" in page, "no executed output on the page"


# --- the claims ledger (course_lib.claims; _ext/ledger.py writes _ledger/<page>.json) -------------------------
LEDGER_PAGES = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", LEDGER_PAGES, ids=lambda p: p.name)
def test_every_notebook_page_has_a_ledger_of_passing_claims_that_rule_out_wrong_answers(notebook):
    import json

    path = HTML / "_ledger" / f"chapters__{notebook.stem}.json"
    assert path.is_file(), f"{notebook.name} has no claims ledger (its last cell must call ledger())"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["page"] == f"chapters/{notebook.stem}"
    claims = data["claims"]
    assert claims, f"{notebook.name}: empty ledger"
    page = _page(f"chapters/{notebook.stem}.html")
    assert page.count('class="claims-ledger"') == 1, "the ledger must be shown once, folded, on the page"
    for c in claims:
        assert c["passed"] is True, f"{notebook.name}: claim failed: {c['statement']}"
        assert c["kind"] in {"close", "bound", "exact"}, c
        if c["kind"] == "exact":
            assert c["deviation"] <= 1, c
            continue
        assert c["rules_out"], f"{notebook.name}: {c['statement']!r} rules out no wrong answer"
        for r in c["rules_out"]:
            if c["kind"] == "close":
                assert c["deviation"] <= 1, c
                assert r["distance"] > 1, f"{notebook.name}: {c['statement']!r} cannot tell {r['name']!r} apart"
                assert abs(r["value"] - c["expected"]) > c["tol"] or r["distance"] > 1, c
            else:
                assert c["deviation"] <= 0, c
                assert r["distance"] > 0, f"{notebook.name}: {c['statement']!r}'s bound passes {r['name']!r}"


def test_every_notebook_was_executed_once_for_this_build():
    """`make book` executes the pages into the build's jupyter-cache (course_tools.book_execute) and the
    build only reads them: a page whose cached run the build failed to match (say, a new ``source-read``
    rule in _ext changed its cells' metadata) is executed a second time, one page at a time."""
    from jupyter_cache import get_cache

    from course_tools.book_execute import book_notebooks

    cache = HTML.parent / ".jupyter_cache"
    assert cache.is_dir(), f"no jupyter-cache beside the build ({cache}): build it with `make book`"
    runs: dict[str, int] = {}
    for record in get_cache(str(cache)).list_cache_records():
        runs[Path(record.uri).name] = runs.get(Path(record.uri).name, 0) + 1
    assert runs == {p.name: 1 for p in book_notebooks(ROOT)}, runs


def test_the_front_page_map_links_every_page_of_the_toc_with_its_reading_time():
    import sys

    sys.path.insert(0, str(ROOT / "_ext"))
    import chapter_map

    index = _page("index.html")
    for part in chapter_map.chapter_entries(ROOT):
        assert part.caption in index
        for entry in part.entries:
            assert f'href="{entry.docname}.html"' in index, f"the front page does not link {entry.docname}"
            assert f"≈ {entry.minutes} min read" in index
    assert "(planned)" not in index and "start here" in index


def test_the_pdf_has_every_page_of_the_toc_and_every_figure():
    """`make pdf` (course_tools.book_pdf) prints the whole book: every page's title and every figure's image."""
    import sys
    import unicodedata

    from pypdf import PdfReader

    sys.path.insert(0, str(ROOT / "_ext"))
    import chapter_map

    pdf = HTML / "book.pdf"
    assert pdf.is_file(), "no book.pdf: run `make pdf` (python -m course_tools.book_pdf _build/html)"
    reader = PdfReader(pdf)

    def words(text: str) -> str:
        # the PDF's text layer drops or adds spaces, punctuation and line breaks, and writes ligatures
        # ("diﬀerential" with U+FB00): NFKC turns them back into letters
        return "".join(re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKC", text).lower()))

    # each page of the toc starts on the sheet its named destination (the contents sheet's link) points
    # at, in reading order, and that sheet shows its title; only those sheets' text is extracted
    from course_tools.book_pdf import anchor

    sheets = {name.lstrip("/"): reader.get_destination_page_number(dest)
              for name, dest in reader.named_destinations.items()}
    entries = [e for part in chapter_map.chapter_entries(ROOT) for e in part.entries]
    starts = []
    for entry in entries:
        assert anchor(entry.docname) in sheets, f"the PDF lacks the page {entry.docname} ({entry.title!r})"
        start = sheets[anchor(entry.docname)]
        assert words(entry.title) in words(reader.pages[start].extract_text() or ""), \
            f"sheet {start + 1} of the PDF, where {entry.docname} starts, does not show its title {entry.title!r}"
        starts.append(start)
    assert starts == sorted(starts) and len(set(starts)) == len(starts), f"pages out of reading order: {starts}"
    assert starts[-1] < len(reader.pages)
    figures = sum(len(re.findall(r"<figure\b[^>]*>\s*<a class=\"reference internal image-reference\"",
                                 _page(f"{e.docname}.html")))
                  for part in chapter_map.chapter_entries(ROOT) for e in part.entries)

    def images(page) -> int:  # image XObjects, counted without decoding them
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        return sum(1 for x in xobjects.values() if x.get_object().get("/Subtype") == "/Image")

    found = sum(images(page) for page in reader.pages)
    assert found >= figures > 0, f"the PDF holds {found} images for {figures} figures"
