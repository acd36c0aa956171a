"""The built book as a reader sees it: every page opened in headless Chromium (one browser for all pages).

Run by ``make browser`` (and ``make test``) after the book is built; skipped unless COURSE_BUILT_BOOK names the
html folder (e.g. ``COURSE_BUILT_BOOK=_build/html``). Needs Debian's ``chromium`` and ``chromium-driver``
(``apt-get install chromium chromium-driver``) and ``selenium`` (the ``test`` extra).

Per page it asserts what a first reading in a browser found broken:

* no JavaScript error in the console (the network is switched off, so anything fetched from a CDN fails
  loudly too: the book must work offline);
* every math element typeset by MathJax (no ``mjx-merror``), and no raw ``$…$``, ``{eq}``, ``{footcite}``
  or ``((11))`` left in the text;
* no raw Markdown table (a ``|---|`` line) in the text;
* every animation player steps when its "Next frame" button is clicked, and its buttons show a glyph;
* the Colab launch buttons and the repository button point at ``_config.yml``'s repository;
* nothing wider than the content column at 1280 px: no text, figure, image or equation beyond it, no
  code block or display equation that scrolls sideways;
* every output image sits in a ``<figure>`` with a caption (myst-nb's ``mystnb.figure.caption``).

Set COURSE_BROWSER_SCREENSHOTS to a folder to also save a full-page PNG of every page there.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import pytest

from course_tools.colab import repository_url

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("COURSE_BUILT_BOOK", ""))
if HTML and not HTML.is_absolute():
    HTML = ROOT / HTML
pytestmark = pytest.mark.skipif(not os.environ.get("COURSE_BUILT_BOOK"),
                                reason="set COURSE_BUILT_BOOK=_build/html after building the book (make browser)")

WIDTH = 1280  # the window width the review used
TIMEOUT = 240  # s per page; a long chapter typesets in a few seconds on an idle 2-core machine
INSTALL_HINT = ("Headless Chromium is missing: install it with `sudo apt-get install -y chromium chromium-driver` "
                "(Debian; the package names of your system may differ), then run the browser test again.")
NOTEBOOK_STEMS = {p.stem for p in (ROOT / "chapters").glob("*.ipynb")}


def _pages() -> list[str]:
    if not HTML.is_dir():
        return []
    pages = ["index.html"] + sorted(f"chapters/{p.name}" for p in (HTML / "chapters").glob("*.html"))
    return [p for p in pages if (HTML / p).is_file()]


#: What a build is made from: a file here newer than the build makes the build stale.
BUILD_SOURCES = ("_config.yml", "_toc.yml", "index.md", "references.bib", "chapters/*", "exercises/book/*.md",
                 "_ext/**/*.py", "_static/**/*", "course_lib/**/*.py")
STAMP = ".build-started"  # written by the Makefile's book build when it succeeds: the time the build started


def stale_sources(html: Path, root: Path = ROOT) -> list[str]:
    """The sources newer than the build in ``html`` (all of them, as one line, when it has no stamp)."""
    stamp = html / STAMP
    if not stamp.is_file():
        return [f"{html}/{STAMP} is missing: the book was not built by `make book` (or its build failed)"]
    started = float(stamp.read_text().strip())
    return sorted(str(p.relative_to(root)) for pattern in BUILD_SOURCES for p in root.glob(pattern)
                  if p.is_file() and p.stat().st_mtime > started)


def test_the_build_is_not_stale():
    stale = stale_sources(HTML)
    assert not stale, "the built book is older than its sources; run `make book` again:\n  " + "\n  ".join(stale[:20])


def test_a_source_newer_than_the_build_makes_it_stale(tmp_path):
    (tmp_path / "chapters").mkdir()
    assert stale_sources(tmp_path, tmp_path) and "missing" in stale_sources(tmp_path, tmp_path)[0]
    (tmp_path / STAMP).write_text("1000.5\n")
    page = tmp_path / "chapters" / "01_x.ipynb"
    page.write_text("{}")
    os.utime(page, (1000.0, 1000.0))
    assert stale_sources(tmp_path, tmp_path) == []
    os.utime(page, (1001.0, 1001.0))
    assert stale_sources(tmp_path, tmp_path) == ["chapters/01_x.ipynb"]


def browser_paths() -> tuple[str, str] | None:
    """(chromium binary, chromedriver) found on PATH (or in COURSE_CHROMIUM / COURSE_CHROMEDRIVER), else None."""
    binary = os.environ.get("COURSE_CHROMIUM") or next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    driver = os.environ.get("COURSE_CHROMEDRIVER") or shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for every page, with the network switched off and the console log kept."""
    if stale_sources(HTML):
        pytest.fail("the built book is stale (see test_the_build_is_not_stale): run `make book` first", pytrace=False)
    paths = browser_paths()
    if paths is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: pip install -e '.[test]' installs it.", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--window-size={WIDTH},1000",
                # offline: every host name fails to resolve, so a CDN dependency shows as a console error
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # return at DOMContentLoaded; WAIT_FOR_MATHJAX then waits for the load event and the typesetting
    options.page_load_strategy = "eager"
    driver = webdriver.Chrome(service=Service(executable_path=paths[1]), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    driver.set_script_timeout(TIMEOUT)
    yield driver
    driver.quit()


# Everything measured in the page, in one script (fast): lists of findings, empty when the page is fine.
PAGE_SCRIPT = r"""
const article = document.querySelector('article.bd-article') || document.querySelector('main');
const col = article.getBoundingClientRect();
const tol = 1;  // px
const out = {merror: 0, untypeset: [], raw: [], mdtables: [], overflow: [], scrolls: [], uncaptioned: [],
             doubleparen: [], colab: [], repo: [], animations: 0, docScroll: 0};
out.merror = document.querySelectorAll('mjx-merror').length;
for (const el of article.querySelectorAll('.math')) {
  if (!el.querySelector('mjx-container')) out.untypeset.push(el.textContent.trim().slice(0, 80));
}
// text outside code, outputs of code and typeset math
const skip = 'pre, code, script, style, textarea, mjx-container, .highlight, .math';
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
let node;
const texts = [];
while ((node = walker.nextNode())) {
  if (node.parentElement && node.parentElement.closest(skip)) continue;
  texts.push(node.textContent);
}
const text = texts.join('');
for (const [re, what] of [[/\$\$?[^$\s][^$]{0,200}?\$\$?/g, 'raw $..$ math'], [/\{eq\}`?[^\s`]*`?/g, 'raw {eq}'],
                          [/\{foot(cite|bibliography)[^\s]*/g, 'raw {footcite}'], [/\{cite[:\w]*\}/g, 'raw {cite}'],
                          [/\\\(|\\\[/g, 'raw \\( or \\[']]) {
  for (const m of text.matchAll(re)) out.raw.push(what + ': ' + m[0].slice(0, 60));
}
for (const m of text.matchAll(/\(\(\s*\d+(\.\d+)?\s*\)\)/g)) out.doubleparen.push(m[0]);
for (const line of text.split('\n')) {
  if (/\|\s*:?-{3,}:?\s*\|/.test(line)) out.mdtables.push(line.trim().slice(0, 80));
}
// overflow beyond the content column (elements inside a scrolling table container are judged by it)
const describe = (el) => {
  const id = el.id || (el.closest('[id]') || {}).id || '';
  const t = (el.textContent || el.getAttribute('alt') || '').trim().replace(/\s+/g, ' ').slice(0, 60);
  return `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''}` +
         `${id ? ' #' + id : ''} "${t}"`;
};
for (const el of article.querySelectorAll('p, li, h1, h2, h3, h4, figure, img, mjx-container, table, dl, blockquote, .admonition, .animation, div.highlight')) {
  if (el.closest('.pst-scrollable-table-container') && el.tagName !== 'TABLE') continue;
  if (el.closest('div.highlight, .math') && !el.matches('div.highlight')) continue;  // judged by scrollWidth below
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.right > col.right + tol || r.left < col.left - tol) {
    out.overflow.push(`${describe(el)} spans ${Math.round(r.left - col.left)}..${Math.round(r.right - col.left)} px of a ${Math.round(col.width)} px column`);
  }
}
for (const el of article.querySelectorAll('div.highlight pre, div.math, .pst-scrollable-table-container, mjx-container[display="true"]')) {
  if (el.scrollWidth > el.clientWidth + tol) {
    out.scrolls.push(`${describe(el)} scrolls sideways (${el.scrollWidth} px of content in ${el.clientWidth} px)`);
  }
}
out.docScroll = document.documentElement.scrollWidth - document.documentElement.clientWidth;
for (const img of article.querySelectorAll('.cell_output img, .output img')) {
  if (img.closest('.animation')) continue;  // an animation's caption is the italic paragraph below it
  const fig = img.closest('figure');
  const cap = fig && fig.querySelector('figcaption');
  if (!cap || !cap.textContent.trim()) out.uncaptioned.push(describe(img));
}
for (const a of document.querySelectorAll('a[href*="colab.research.google.com"]')) out.colab.push(a.href);
for (const a of document.querySelectorAll('.article-header-buttons a[href^="https://github.com/"], a.btn[href^="https://github.com/"]')) out.repo.push(a.href);
out.animations = article.querySelectorAll('.animation').length;
return out;
"""

WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const started = Date.now();
(function wait() {
  if (document.readyState !== 'complete') { return setTimeout(wait, 50); }
  if (!document.querySelector('.math')) { return done('no math'); }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    return MathJax.startup.promise.then(() => done('typeset')).catch((e) => done('error: ' + e));
  }
  if (Date.now() - started > 120000) { return done('MathJax never started'); }
  setTimeout(wait, 100);
})();
"""

# Click each player's "Next frame" button; report the players whose image did not change or whose buttons are blank.
ANIMATION_SCRIPT = """
const results = [];
for (const anim of document.querySelectorAll('article .animation')) {
  const img = anim.querySelector('img');
  const next = anim.querySelector('button[title="Next frame"]');
  const blank = [...anim.querySelectorAll('button')].filter((b) => !b.textContent.trim()).map((b) => b.title);
  results.push({img: img ? img.id : null, src: img ? img.src.length + ':' + img.src.slice(-40) : null,
                hasNext: !!next, blank: blank});
}
return results;
"""


def _click_next_frames(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    problems = []
    players = driver.execute_script(ANIMATION_SCRIPT)
    for i, anim in enumerate(driver.find_elements(By.CSS_SELECTOR, "article .animation")):
        info = players[i]
        if info["blank"]:
            problems.append(f"animation {i + 1}: buttons without a visible glyph {info['blank']} (icon font not loaded?)")
        if not info["hasNext"] or info["img"] is None:
            problems.append(f"animation {i + 1}: no frame image or no 'Next frame' button")
            continue
        img = anim.find_element(By.TAG_NAME, "img")
        before = img.get_attribute("src")
        button = anim.find_element(By.CSS_SELECTOR, 'button[title="Next frame"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()
        if img.get_attribute("src") == before:
            problems.append(f"animation {i + 1}: clicking 'Next frame' did not change the frame image")
    return problems


def _severe_console_entries(driver) -> list[str]:
    return [f"{e['message'][:300]}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _screenshot(driver, page: str) -> None:
    folder = os.environ.get("COURSE_BROWSER_SCREENSHOTS")
    if not folder:
        return
    from selenium.common.exceptions import WebDriverException

    height = driver.execute_script("return document.documentElement.scrollHeight")
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:  # a screenshot is a convenience: a renderer too slow for a very tall page must not fail the test
        driver.set_window_size(WIDTH, min(int(height) + 100, 16000))
        driver.save_screenshot(str(Path(folder) / (page.replace("/", "__").removesuffix(".html") + ".png")))
    except WebDriverException as err:
        warnings.warn(f"no screenshot of {page}: {err.msg}", stacklevel=1)
    finally:
        driver.set_window_size(WIDTH, 1000)


def page_problems(driver, page: str) -> list[str]:
    """Everything wrong with one built page, in words ([] when it is fine)."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get((HTML / page).as_uri())
    problems = []
    state = driver.execute_async_script(WAIT_FOR_MATHJAX)
    if state.startswith(("error", "MathJax never")):
        problems.append(f"MathJax: {state}")
    found = driver.execute_script(PAGE_SCRIPT)
    problems += [f"JavaScript console error: {m}" for m in _severe_console_entries(driver)]
    if found["merror"]:
        problems.append(f"{found['merror']} MathJax error node(s) (mjx-merror): TeX that MathJax cannot typeset")
    problems += [f"math not typeset: {t!r}" for t in found["untypeset"]]
    problems += [f"raw markup in the text: {t}" for t in found["raw"]]
    problems += [f"double parentheses around an equation number: {t}" for t in found["doubleparen"]]
    problems += [f"raw Markdown table in the text: {t!r}" for t in found["mdtables"]]
    problems += [f"wider than the column: {t}" for t in found["overflow"]]
    problems += found["scrolls"]
    if found["docScroll"] > 1:
        problems.append(f"the page scrolls sideways by {found['docScroll']} px at {WIDTH} px")
    problems += [f"output image without a figure caption: {t}" for t in found["uncaptioned"]]
    repo = repository_url(ROOT / "_config.yml").removesuffix("/").removesuffix(".git")
    colab_prefix = "https://colab.research.google.com/github/" + repo.removeprefix("https://github.com/") + "/blob/"
    problems += [f"Colab link not pointing at {repo}: {u}" for u in found["colab"] if not u.startswith(colab_prefix)]
    problems += [f"repository button not pointing at {repo}: {u}" for u in found["repo"] if not u.startswith(repo)]
    stem = Path(page).stem
    if stem in NOTEBOOK_STEMS and not any(u.endswith(f"/chapters/{stem}.ipynb") for u in found["colab"]):
        problems.append(f"no Colab launch button for chapters/{stem}.ipynb")
    if found["animations"]:
        problems += _click_next_frames(driver)
    problems += [f"JavaScript console error (after clicking): {m}" for m in _severe_console_entries(driver)]
    _screenshot(driver, page)
    return problems


def test_the_book_is_built():
    assert HTML.is_dir() and (HTML / "index.html").is_file(), f"{HTML} holds no built book: run `make book` first"
    assert len(_pages()) >= 3


@pytest.mark.parametrize("page", _pages())
def test_page_reads_well_in_a_browser(browser, page):
    problems = page_problems(browser, page)
    assert not problems, f"{page}: {len(problems)} problem(s):\n  - " + "\n  - ".join(problems)


def test_the_checks_catch_what_they_should(browser, tmp_path):
    """The page checks are not vacuous: a page with each defect makes each check fire."""
    (tmp_path / "bad.html").write_text(
        "<html><body><main><article class='bd-article' style='width:600px'>"
        "<p>raw $x^2$ and {eq}`ch1-gd` and ((11)) and {footcite:p}`x`</p>"
        "<p>| a | b |\n|---|---|\n| 1 | 2 |</p>"
        "<div class='highlight'><pre style='overflow:auto'>" + "x = 1  # " + "y" * 200 + "</pre></div>"
        "<p><img style='width:900px;height:10px' alt='wide'></p>"
        "<div class='cell_output'><img style='width:10px;height:10px' alt='no caption'></div>"
        "<a href='https://colab.research.google.com/github/someone/else/blob/main/x.ipynb'>Colab</a>"
        "<script>const A = 1;</script><script>const A = 2;</script>"
        "</article></main></body></html>", encoding="utf-8")
    global HTML
    saved, HTML = HTML, tmp_path
    try:
        text = "\n".join(page_problems(browser, "bad.html"))
    finally:
        HTML = saved
    for expected in ["raw $..$ math", "raw {eq}", "raw {footcite}", "double parentheses", "raw Markdown table",
                     "scrolls sideways", "wider than the column", "without a figure caption",
                     "Colab link not pointing", "has already been declared"]:
        assert expected in text, f"the check for {expected!r} did not fire:\n{text}"
