"""course_tools.book_pdf's print page: every page of the toc, in order, after a contents sheet linking them."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_tools.book_pdf import anchor, print_page


def _page(title: str, body: str = "<p>text</p>") -> str:
    return (f"<html><head><title>{title}</title></head><body><main>"
            f'<article class="bd-article" role="main"><section><h1>{title}'
            f'<a class="headerlink" href="#x" title="Link to this heading">#</a></h1>{body}</section>'
            "</article></main></body></html>")


def _site(tmp_path: Path, h1: bool = True) -> tuple[Path, Path]:
    root, site = tmp_path / "root", tmp_path / "site"
    (root / "chapters").mkdir(parents=True)
    (root / "_config.yml").write_text('title: "Optimizers & more"\n')
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: chapters/one\n"
                                   "  - file: chapters/two\n")
    (site / "chapters").mkdir(parents=True)
    (site / "index.html").write_text(_page("Preface", '<img src="_images/a.png">'))
    (site / "chapters" / "one.html").write_text(_page(r"1. First \(x^2\)"))
    (site / "chapters" / "two.html").write_text(_page("2. Second") if h1 else "<article class=\"bd-article\">"
                                                "<p>no title</p></article>")
    return root, site


def test_the_print_page_has_a_contents_sheet_linking_every_page_in_reading_order(tmp_path):
    root, site = _site(tmp_path)
    html = print_page(site, root).read_text()
    contents = html.split('class="book-print-page book-print-contents"', 1)[1].split("</section>", 1)[0]
    links = [f'<a href="#{anchor(p)}">' for p in ("index", "chapters/one", "chapters/two")]
    assert [contents.index(link) for link in links] == sorted(contents.index(link) for link in links)
    assert r"1. First \(x^2\)</a>" in contents and "headerlink" not in contents  # math kept, permalink gone
    ids = [html.index(f'id="{anchor(p)}"') for p in ("index", "chapters/one", "chapters/two")]
    assert ids == sorted(ids) and html.index("book-print-contents") < ids[0]
    assert 'src="../_images/a.png"' in html  # the front page's links rebased for chapters/
    assert "<title>Optimizers &amp; more</title>" in html and "<title>1. First" not in html  # the book's title


def test_a_page_without_a_title_or_not_built_is_refused_with_its_path(tmp_path):
    root, site = _site(tmp_path, h1=False)
    with pytest.raises(ValueError, match=r"two\.html: no <h1> title"):
        print_page(site, root)
    (site / "chapters" / "two.html").unlink()
    with pytest.raises(FileNotFoundError, match=r"two\.html was not built"):
        print_page(site, root)
