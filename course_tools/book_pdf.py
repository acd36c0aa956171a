"""The whole book as one PDF, printed from the built HTML by headless Chromium (``make pdf``).

The PDF is made from the same build as the website, so its numbers, figures and equation numbers are the
ones a reader sees online. Steps:

1. the article of every page of ``_toc.yml`` (front page first) is taken from the built HTML and the
   pages are concatenated, in reading order, into one print page ``chapters/_book_print.html`` (beside
   the chapters, so their relative links to images and styles hold; the front page's are rebased), each
   page starting on a new sheet, with folded code and dropdowns opened, after a contents sheet that
   links each page's title to its first sheet (the PDF's named destination ``print-<page>``, see
   :func:`anchor`);
2. headless Chromium (the one ``tests/book/test_browser.py`` uses, driven by selenium) opens it, waits until
   MathJax has typeset every formula, and prints it (``Page.printToPDF``, A4) to ``book.pdf`` at the root of
   the site, where every page's download menu links it (``_ext/downloads.py``).

Run ``python -m course_tools.book_pdf [_build/html]`` after ``make book`` (``make pdf``).
``tests/book/test_built_book.py`` checks that the PDF has every
chapter's title and as many images as the pages have figures.
"""

from __future__ import annotations

import argparse
import base64
import re
import sys
from html import escape as html_escape
from pathlib import Path

PRINT_PAGE = "chapters/_book_print.html"
PDF_NAME = "book.pdf"
_ARTICLE = re.compile(r'<article class="bd-article"[^>]*>(.*?)</article>', re.DOTALL)
_HEAD = re.compile(r"<head>(.*?)</head>", re.DOTALL)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.DOTALL)
_HEADERLINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>', re.DOTALL)

PRINT_CSS = """
<style>
  @page { size: A4; margin: 16mm 14mm; }
  body { background: white; }
  .book-print-page { break-before: page; }
  .book-print-page:first-child { break-before: auto; }
  .book-print-contents ul { list-style: none; padding-left: 0; font-size: 14px; line-height: 1.8; }
  .headerlink, .toggle-details__summary, .copybtn, .header-article, .prev-next-area { display: none !important; }
  details > *:not(summary) { display: block !important; }
  details.hide > summary, details.claims-ledger > summary { list-style: none; }
  div.highlight pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 9px; }
  figure, img, mjx-container[display="true"] { break-inside: avoid; }
  img { max-width: 100% !important; height: auto; }
  .animation { display: none; }
</style>
"""


def toc_pages(root: Path) -> list[str]:
    from course_tools.colab_edition import toc_pages as pages

    return pages(root)


def _book_title(root: Path) -> str:
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) if (root / "_config.yml").is_file() else {}
    return str((config or {}).get("title") or "The book")


def anchor(page: str) -> str:
    """The id of a page's section in the print page, and so the PDF's named destination of its first sheet."""
    return "print-" + page.replace("/", "-")


def _title(article: str, path: Path) -> str:
    """The inner HTML of the article's first ``<h1>``, without its permalink (math stays for MathJax)."""
    found = _H1.search(article)
    if found is None:
        raise ValueError(f"{path}: no <h1> title in the article")
    return _HEADERLINK.sub("", found.group(1)).strip()


def _rebase(html: str, prefix: str) -> str:
    """Relative ``src``/``href`` of a page at the site's root, as seen from ``chapters/``."""
    if not prefix:
        return html
    return re.sub(r'(\s(?:src|href)=")(?![a-z]+:|#|/|\.\./)([^"]*)"', lambda m: f'{m.group(1)}{prefix}{m.group(2)}"',
                  html)


def print_page(site: Path, root: Path) -> Path:
    """Write the one-page print version of the book into the site; returns its path."""
    pages = toc_pages(root)
    parts: list[str] = []
    contents: list[str] = []
    head = None
    for page in pages:
        path = site / f"{page}.html"
        if not path.is_file():
            raise FileNotFoundError(f"{path} was not built: run `make book` first")
        text = path.read_text(encoding="utf-8")
        found = _ARTICLE.search(text)
        if found is None:
            raise ValueError(f"{path}: no <article class='bd-article'>")
        article = found.group(1)
        if "/" not in page:  # the front page sits at the root; the print page in chapters/
            article = _rebase(article, "../")
        elif head is None:
            head = _HEAD.search(text).group(1)
        article = article.replace("<details ", "<details open ")
        contents.append(f'<li><a href="#{anchor(page)}">{_title(article, path)}</a></li>')
        parts.append(f'<section class="book-print-page" id="{anchor(page)}" data-page="{page}">{article}</section>')
    # a contents sheet whose links make Chromium write a named destination per page (tests find the
    # pages by them) and let a reader jump to a chapter
    contents_sheet = (f'<section class="book-print-page book-print-contents"><h1>Contents</h1>'
                      f'<ul>{"".join(contents)}</ul></section>')
    # the PDF's title (its metadata, a reader's window title) is the book's, not the first chapter's
    title = _book_title(root)
    head = re.sub(r"<title>.*?</title>", lambda _: f"<title>{html_escape(title)}</title>", head or "",
                  count=1, flags=re.DOTALL)
    html = (f"<!DOCTYPE html><html><head>{head}{PRINT_CSS}</head><body>"
            f'<main><article class="bd-article" role="main">{contents_sheet}{"".join(parts)}</article></main>'
            "</body></html>")
    target = site / PRINT_PAGE
    target.write_text(html, encoding="utf-8")
    return target


WAIT = """
const done = arguments[arguments.length - 1];
(function wait() {
  if (document.readyState !== 'complete') { return setTimeout(wait, 100); }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    return MathJax.startup.promise.then(() => done('typeset')).catch((e) => done('error: ' + e));
  }
  setTimeout(wait, 200);
})();
"""


def chromium_paths() -> tuple[str, str] | None:
    """(chromium binary, chromedriver) on PATH (or in COURSE_CHROMIUM / COURSE_CHROMEDRIVER), else None.

    The browser test (tests/book/test_browser.py) uses the same lookup.
    """
    import os
    import shutil

    binary = os.environ.get("COURSE_CHROMIUM") or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = os.environ.get("COURSE_CHROMEDRIVER") or shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


def print_pdf(page: Path, target: Path, timeout: float = 600) -> Path:
    """Print ``page`` with headless Chromium to ``target`` (A4, backgrounds on)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("headless Chromium is missing: sudo apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1000,1400", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
    driver.command_executor._client_config.timeout = timeout  # printing a long book takes minutes
    try:
        driver.set_page_load_timeout(timeout)
        driver.set_script_timeout(timeout)
        driver.get(page.resolve().as_uri())
        state = driver.execute_async_script(WAIT)
        if state != "typeset":
            raise RuntimeError(f"MathJax did not finish: {state}")
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True, "paperWidth": 8.27,
                                                         "paperHeight": 11.69, "preferCSSPageSize": True,
                                                         "displayHeaderFooter": True,
                                                         "headerTemplate": "<span></span>",
                                                         "footerTemplate": '<div style="font-size:8px;width:100%;'
                                                                           'text-align:center"><span class="pageNumber">'
                                                                           "</span></div>"})
    finally:
        driver.quit()
    target.write_bytes(base64.b64decode(pdf["data"]))
    return target


def build_pdf(site: str | Path = "_build/html", root: str | Path = ".") -> Path:
    site, root = Path(site), Path(root)
    page = print_page(site, root)
    return print_pdf(page, site / PDF_NAME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.book_pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", default="_build/html", help="the built HTML book (default _build/html)")
    parser.add_argument("--root", default=".", help="the repository root (default: the current folder)")
    args = parser.parse_args(argv)
    target = build_pdf(args.site, args.root)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
