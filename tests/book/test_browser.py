"""The built book as a reader sees it: every page opened in headless Chromium (one browser for all pages).

Run by ``make browser`` (and ``make test``) after the book is built; skipped unless COURSE_BUILT_BOOK names the
html folder (e.g. ``COURSE_BUILT_BOOK=_build/html``). Needs Debian's ``chromium`` and ``chromium-driver``
(``apt-get install chromium chromium-driver``) and ``selenium`` (the ``test`` extra).

Each page is loaded and typeset once, checked at 1280 px, then narrowed to a phone's 390 px and checked again
(display math re-fitted as _static/fit-math.js does on a resize). Per page it asserts what a first reading in a
browser found broken (a failure names the width; what the width does not change is reported once, at 1280 px):

* no JavaScript error in the console (the network is switched off, so anything fetched from a CDN fails
  loudly too: the book must work offline);
* every math element typeset by MathJax (no ``mjx-merror``), and no raw ``$…$``, ``{eq}``, ``{footcite}``
  or ``((11))`` left in the text;
* no raw Markdown table (a ``|---|`` line) in the text;
* every animation player steps when its "Next frame" button is clicked, and its buttons show a glyph;
* the Colab launch buttons and the repository button point at ``_config.yml``'s repository;
* nothing wider than the content column at 1280 px: no text, figure, image or equation beyond it, no
  code block or display equation that scrolls sideways;
* every output image sits in a ``<figure>`` with a caption (myst-nb's ``mystnb.figure.caption``), and every
  image's alt text is words (the caption), not a file path;
* no equation label left as raw text anywhere a reader sees it (text, captions, code, outputs):
  ``(ch3-momentum)`` must show as its number (_ext/equation_numbers.py), ``opt-…`` as a tag;
* the same page narrowed to a phone's width (390 px): nothing wider than the column (a wide figure scrolls inside
  its own box), no display equation that still scrolls after _static/fit-math.js shrank it or that runs
  under its equation number, figure text at least 9 pt (the image's rendered scale times the smallest
  font of the course's matplotlib style), and every animation button inside the column.

Set COURSE_BROWSER_SCREENSHOTS to a folder to also save a full-page PNG of every page there.
"""

from __future__ import annotations

import functools
import os
import re
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
PHONE = 390  # a phone's width in CSS px (iPhone 12-15)
#: The smallest text of a figure, in pt, and the figure's CSS px per inch at 1:1 (course_lib.plotting's style:
#: retina PNGs are shown at figure.dpi CSS px per inch). Text renders at MIN_FONT_PT * DPI / 72 * scale CSS px.
MIN_LEGIBLE_PT = 9.0
#: _static/fit-math.js shrinks a display to no less than this; one still wider scrolls in its own box, on a
#: line of its own below its number (a warning, not a failure: the text stays readable, swiping shows the rest).
MIN_MATH_SCALE = 0.6
TIMEOUT = 240  # s per page; a long chapter typesets in a few seconds on an idle 2-core machine
INSTALL_HINT = ("Headless Chromium is missing: install it with `sudo apt-get install -y chromium chromium-driver` "
                "(Debian; the package names of your system may differ), then run the browser test again.")
NOTEBOOK_STEMS = {p.stem for p in (ROOT / "chapters").glob("*.ipynb")}


def _pages() -> list[str]:
    if not HTML.is_dir():
        return []
    # "_book_print.html" is `make pdf`'s assembly of every page for printing, not a page of the book
    pages = ["index.html"] + sorted(f"chapters/{p.name}" for p in (HTML / "chapters").glob("*.html")
                                    if not p.name.startswith("_"))
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
    from course_tools.book_pdf import chromium_paths

    return chromium_paths()


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
    # selenium's own HTTP timeout (120 s) must outlast a long page's typesetting on a loaded machine
    driver.command_executor._client_config.timeout = TIMEOUT + 60
    yield driver
    driver.quit()


# Everything measured in the page, in one script (fast): lists of findings, empty when the page is fine.
PAGE_SCRIPT = r"""
const article = document.querySelector('article.bd-article') || document.querySelector('main');
const col = article.getBoundingClientRect();
const tol = 1;  // px
const opts = arguments[0] || {};
const phone = !!opts.phone;
const out = {merror: 0, untypeset: [], raw: [], mdtables: [], overflow: [], scrolls: [], uncaptioned: [],
             doubleparen: [], colab: [], repo: [], animations: 0, docScroll: 0, labels: [], alt: [], small: [],
             undernumber: [], buttons: []};
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
// equation labels a reader would see: in text, captions, code and outputs (not in TeX or scripts)
const all = [];
const walker2 = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
while ((node = walker2.nextNode())) {
  if (node.parentElement && node.parentElement.closest('script, style, mjx-container, mjx-assistive-mml')) continue;
  all.push(node.textContent);
}
const everything = all.join('');
for (const m of everything.matchAll(/\((?:ch\d+|opt)-[a-z0-9][a-z0-9-]*\)|\bopt-[a-z]+-[a-z0-9-]+|Equation labels:/g)) {
  out.labels.push(everything.slice(Math.max(0, m.index - 40), m.index + m[0].length + 10).replace(/\s+/g, ' '));
}
// alt text: words, not a file path; a figure's image says what its caption says
for (const img of article.querySelectorAll('img')) {
  if (img.closest('.animation')) continue;
  const alt = (img.getAttribute('alt') || '').trim();
  if (!alt || /\.(png|svg|jpe?g|gif)$/i.test(alt) || alt.startsWith('../') || alt.includes('_images/')) {
    out.alt.push(describe(img) + ' alt=' + JSON.stringify(alt.slice(0, 60)));
  }
}
for (const line of text.split('\n')) {
  if (/\|\s*:?-{3,}:?\s*\|/.test(line)) out.mdtables.push(line.trim().slice(0, 80));
}
// overflow beyond the content column (elements inside a scrolling table container are judged by it)
function describe(el) {
  const id = el.id || (el.closest('[id]') || {}).id || '';
  const t = (el.textContent || el.getAttribute('alt') || '').trim().replace(/\s+/g, ' ').slice(0, 60);
  return `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : ''}` +
         `${id ? ' #' + id : ''} "${t}"`;
}
const scrollsInBox = (el) => {  // inside a box that scrolls sideways on purpose (a wide figure on a phone)
  for (let p = el.parentElement; p && p !== article; p = p.parentElement) {
    const style = getComputedStyle(p);
    if (['auto', 'scroll'].includes(style.overflowX) && p.tagName !== 'MJX-CONTAINER') return p;
  }
  return null;
};
for (const el of article.querySelectorAll('p, li, h1, h2, h3, h4, figure, img, mjx-container, table, dl, blockquote, .admonition, .animation, div.highlight')) {
  if (el.closest('.pst-scrollable-table-container') && el.tagName !== 'TABLE') continue;
  if (phone && el.tagName === 'IMG' && scrollsInBox(el)) continue;  // judged by its box, below
  if (el.closest('div.highlight, .math') && !el.matches('div.highlight')) continue;  // judged by scrollWidth below
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.right > col.right + tol || r.left < col.left - tol) {
    out.overflow.push(`${describe(el)} spans ${Math.round(r.left - col.left)}..${Math.round(r.right - col.left)} px of a ${Math.round(col.width)} px column`);
  }
}
out.shrunk = [];
for (const el of article.querySelectorAll('div.highlight pre, div.math, .pst-scrollable-table-container, mjx-container[display="true"]')) {
  if (phone && el.matches('div.highlight pre')) continue;  // code scrolls sideways on a phone, as everywhere
  if (phone && el.matches('.pst-scrollable-table-container')) continue;  // so do wide tables
  if (phone && el.matches('div.math')) continue;  // judged by its mjx-container
  const atMinimum = phone && el.dataset.courseScale && parseFloat(el.dataset.courseScale) <= opts.minMathScale + 1e-3;
  if (atMinimum && el.scrollWidth > el.clientWidth + tol) {
    out.shrunk.push(`${describe(el)}: ${el.scrollWidth} px at ${Math.round(100 * el.dataset.courseScale)} % in ${el.clientWidth} px`);
    continue;
  }
  if (el.scrollWidth > el.clientWidth + tol) {
    out.scrolls.push(`${describe(el)} scrolls sideways (${el.scrollWidth} px of content in ${el.clientWidth} px)`);
  }
}
out.docScroll = document.documentElement.scrollWidth - document.documentElement.clientWidth;
// an equation number must not sit over its display
for (const eqno of article.querySelectorAll('div.math > span.eqno')) {
  const math = eqno.parentElement.querySelector('mjx-container');
  if (!math) continue;
  const a = eqno.getBoundingClientRect(), b = math.getBoundingClientRect();
  const inner = math.firstElementChild ? math.firstElementChild.getBoundingClientRect() : b;
  const overlap = a.left < inner.right - tol && inner.left < a.right - tol && a.top < b.bottom - tol && b.top < a.bottom - tol;
  if (overlap) out.undernumber.push(`equation ${eqno.textContent.trim().slice(0, 12)} runs under its number`);
}
// figure text size: the rendered scale of each output image times the smallest font of the style
for (const img of article.querySelectorAll('figure img, .cell_output img')) {
  if (img.closest('.animation') || !img.naturalWidth) continue;
  // myst-nb writes a retina PNG's size at 1:1 in its style (or width attribute); else the PNG is 2x
  const styled = img.style.width.endsWith('px') ? parseFloat(img.style.width) : 0;
  const natural = styled || parseFloat(img.getAttribute('width')) || img.naturalWidth / 2;
  const scale = img.getBoundingClientRect().width / natural;
  const pt = opts.minFontPt * scale * (opts.dpi / 72) * 0.75;  // CSS px -> pt
  if (pt < opts.minLegiblePt - 0.05) out.small.push(`${describe(img)}: smallest text ${pt.toFixed(1)} pt (scale ${scale.toFixed(2)})`);
}
// animation controls inside the column and visible
for (const b of article.querySelectorAll('.animation button')) {
  const r = b.getBoundingClientRect();
  if (r.width === 0 || r.right > col.right + tol || r.left < col.left - tol) out.buttons.push(b.title || b.textContent.trim());
}
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
  // the book loads MathJax with a deferred script, which has run by the load event: none on the page, none to wait for
  if (!document.querySelector('script[src*="mathjax" i]')) { return done('MathJax never started: no MathJax script'); }
  if (Date.now() - started > 120000) { return done('MathJax never started'); }
  setTimeout(wait, 100);
})();
"""

# Before _viewport resizes the window: a promise settled once _static/fit-math.js's own resize handler has re-fitted
# the display math. Its listener was added when the page loaded, so in each 'resize' dispatch it sets its timer
# (arguments[0] ms) before this one sets an equal one, and timers of equal delay run in the order they were set
# (HTML: timer initialisation steps). Waiting on this replaces a second, duplicate fit of every display.
EXPECT_RESIZE = """
const delay = arguments[0];
window.courseTestWidthBefore = window.innerWidth;
window.courseTestRefitted = new Promise((resolve) => {
  let timer = null;
  window.addEventListener('resize', () => { clearTimeout(timer); timer = setTimeout(resolve, delay); });
});
"""

# After _viewport: wait until the page is arguments[0] px wide and fit-math.js has re-fitted it (EXPECT_RESIZE), or
# re-fit it here when its delay is unknown (arguments[1] null). '' when done, else what went wrong.
WAIT_FOR_WIDTH = """
const width = arguments[0], delay = arguments[1], done = arguments[arguments.length - 1];
const started = Date.now();
(function wait() {
  if (window.outerWidth !== width) {
    if (Date.now() - started > 10000) { return done(`the window stayed ${window.outerWidth} px wide, not ${width} px`); }
    return setTimeout(wait, 10);
  }
  if (delay === null || !window.courseFitMath || window.innerWidth === window.courseTestWidthBefore) {
    if (window.courseFitMath) window.courseFitMath();  // no resize event (or handler) to wait for
    return done('');
  }
  const late = setTimeout(() => done(`no 'resize' event 10 s after the window became ${width} px wide`), 10000);
  window.courseTestRefitted.then(() => { clearTimeout(late); done(''); });
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


def _viewport(driver, width: int, height: int) -> None:
    """A window ``width`` CSS px wide. Headless Chromium's windows are at least 500 px wide, so a phone's
    width is emulated (DevTools' device metrics, as its device toolbar does); the desktop width is the window."""
    if width < 500:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.set_window_size(width, height)


def _screenshot(driver, page: str, width: int = WIDTH) -> None:
    folder = os.environ.get("COURSE_BROWSER_SCREENSHOTS")
    if not folder:
        return
    from selenium.common.exceptions import WebDriverException

    height = driver.execute_script("return document.documentElement.scrollHeight")
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:  # a screenshot is a convenience: a renderer too slow for a very tall page must not fail the test
        _viewport(driver, width, min(int(height) + 100, 16000))
        name = page.replace("/", "__").removesuffix(".html") + ("" if width == WIDTH else f"@{width}") + ".png"
        driver.save_screenshot(str(Path(folder) / name))
    except WebDriverException as err:
        warnings.warn(f"no screenshot of {page}: {err.msg}", stacklevel=1)
    finally:
        _viewport(driver, width, 1000)


@functools.cache
def _figure_style() -> tuple[float, float]:
    """(smallest font size in pt, CSS px per inch of a figure at 1:1) of course_lib.plotting's style.

    ``plotting.set_style()`` draws no text below ``MIN_FONT_PT``; retina PNGs show at figure.dpi px per inch.
    """
    from course_lib import plotting

    return plotting.MIN_FONT_PT, float(plotting._STYLE["figure.dpi"])


@functools.cache
def _repository() -> str:
    return repository_url(ROOT / "_config.yml").removesuffix("/").removesuffix(".git")


def _measure(driver, page: str, width: int) -> dict:
    """PAGE_SCRIPT's findings on the page as it is laid out now, ``width`` px wide."""
    min_pt, dpi = _figure_style()
    found = driver.execute_script(PAGE_SCRIPT, {"phone": width < 720, "minFontPt": min_pt, "dpi": dpi,
                                                "minLegiblePt": MIN_LEGIBLE_PT, "minMathScale": MIN_MATH_SCALE})
    for display in found["shrunk"]:  # the author can break the line with \\ (the reader can still swipe)
        warnings.warn(f"{page} at {width} px: a display scrolls in its box after shrinking: {display}", stacklevel=1)
    return found


def _layout_problems(found: dict, width: int) -> list[str]:
    """What depends on the window's width: overflow, sideways scrolling, numbers, figure text, player buttons."""
    problems = [f"wider than the column: {t}" for t in found["overflow"]]
    problems += found["scrolls"]
    if found["docScroll"] > 1:
        problems.append(f"the page scrolls sideways by {found['docScroll']} px at {width} px")
    problems += found["undernumber"]
    problems += [f"figure text too small at {width} px: {t}" for t in found["small"]]
    problems += [f"animation button outside the column at {width} px: {t}" for t in found["buttons"]]
    return problems


def _content_problems(found: dict, page: str) -> list[str]:
    """What the width does not change: typesetting, raw markup, captions, alt text, labels, links."""
    problems = []
    if found["merror"]:
        problems.append(f"{found['merror']} MathJax error node(s) (mjx-merror): TeX that MathJax cannot typeset")
    problems += [f"math not typeset: {t!r}" for t in found["untypeset"]]
    problems += [f"raw markup in the text: {t}" for t in found["raw"]]
    problems += [f"double parentheses around an equation number: {t}" for t in found["doubleparen"]]
    problems += [f"raw Markdown table in the text: {t!r}" for t in found["mdtables"]]
    problems += [f"output image without a figure caption: {t}" for t in found["uncaptioned"]]
    problems += [f"raw equation label: {t!r}" for t in found["labels"]]
    problems += [f"image alt text is not words: {t}" for t in found["alt"]]
    repo = _repository()
    colab_prefix = "https://colab.research.google.com/github/" + repo.removeprefix("https://github.com/") + "/blob/"
    problems += [f"Colab link not pointing at {repo}: {u}" for u in found["colab"] if not u.startswith(colab_prefix)]
    problems += [f"repository button not pointing at {repo}: {u}" for u in found["repo"] if not u.startswith(repo)]
    stem = Path(page).stem
    if stem in NOTEBOOK_STEMS and not any(u.endswith(f"/colab/{stem}.ipynb") for u in found["colab"]):
        problems.append(f"no Colab launch button for the Colab edition colab/{stem}.ipynb")
    problems += [f"Colab link opens the MyST source, not the Colab edition: {u}" for u in found["colab"]
                 if re.search(r"/blob/[^/]+/chapters/", u)]
    return problems


@functools.cache
def _refit_delay(html: Path) -> int | None:
    """The ms _static/fit-math.js (as built) waits after a 'resize' before it re-fits the display math, or None."""
    script = html / "_static" / "fit-math.js"
    found = re.search(r"setTimeout\(fit, (\d+)\)", script.read_text()) if script.is_file() else None
    return int(found.group(1)) if found else None


def _resize_to(driver, width: int) -> list[str]:
    """Make the loaded page ``width`` px wide and its display math re-fitted; [] when done, else why not."""
    delay = _refit_delay(HTML)
    driver.execute_script(EXPECT_RESIZE, delay or 0)
    _viewport(driver, width, 1000)
    failed = driver.execute_async_script(WAIT_FOR_WIDTH, width, delay)
    return [f"resizing to {width} px: {failed}"] if failed else []


def page_problems(driver, page: str) -> dict[int, list[str]]:
    """Everything wrong with one built page, in words, by window width: ``{WIDTH: [...], PHONE: [...]}``.

    The page is loaded and typeset ONCE: checked at ``WIDTH`` px, then narrowed to a phone's ``PHONE`` px (display
    math re-fitted as _static/fit-math.js does on a resize) and its layout checked again, then its animation
    players clicked (last: a click changes the frames the checks measure) back at ``WIDTH`` px. What the width
    does not change (console errors while loading, typesetting, markup, captions, links) is reported once, under
    ``WIDTH``; a console error logged while at ``PHONE`` px under ``PHONE``. Lists are empty when the page is fine.
    """
    driver.get("about:blank")  # leave the last page first: widened, it would re-lay itself out and re-fit its math
    driver.get_log("browser")  # drop what earlier pages logged
    _viewport(driver, WIDTH, 1000)
    driver.get((HTML / page).as_uri())
    desktop, phone = [], []
    state = driver.execute_async_script(WAIT_FOR_MATHJAX)
    if state.startswith(("error", "MathJax never")):
        desktop.append(f"MathJax: {state}")
    driver.execute_script("if (window.courseFitMath) window.courseFitMath();")  # after typesetting, as on load
    found = _measure(driver, page, WIDTH)
    desktop += [f"JavaScript console error: {m}" for m in _severe_console_entries(driver)]
    desktop += _content_problems(found, page) + _layout_problems(found, WIDTH)
    _screenshot(driver, page, WIDTH)

    phone += _resize_to(driver, PHONE)
    if not phone:
        phone += _layout_problems(_measure(driver, page, PHONE), PHONE)
    phone += [f"JavaScript console error at {PHONE} px: {m}" for m in _severe_console_entries(driver)]
    _screenshot(driver, page, PHONE)

    if found["animations"]:
        desktop += _resize_to(driver, WIDTH)
        desktop += _click_next_frames(driver)
    desktop += [f"JavaScript console error (after clicking): {m}" for m in _severe_console_entries(driver)]
    return {WIDTH: desktop, PHONE: phone}


def _in_words(page: str, problems: dict[int, list[str]]) -> str:
    return "\n".join(f"{page} at {width} px: {len(found)} problem(s):\n  - " + "\n  - ".join(found)
                     for width, found in problems.items() if found)


def test_the_book_is_built():
    assert HTML.is_dir() and (HTML / "index.html").is_file(), f"{HTML} holds no built book: run `make book` first"
    assert len(_pages()) >= 3


@pytest.mark.parametrize("page", _pages())
def test_page_reads_well_in_a_browser_and_on_a_phone(browser, page):
    """One load of the page, checked at 1280 px and at a phone's 390 px (a failure names the width)."""
    problems = page_problems(browser, page)
    assert not any(problems.values()), _in_words(page, problems)


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
        "<p>see (ch3-momentum) and</p><pre>x = 1  # (opt-adam-update)</pre>"
        "<figure><img alt='../_images/abc.png' style='width:10px'><figcaption>A caption</figcaption></figure>"
        "<div class='math' style='position:relative'><span class='eqno' style='position:absolute;left:0;top:0'>"
        "(1)</span><mjx-container display='true'><span>xxxxxxxxxxxxxxxx</span></mjx-container></div>"
        "<script>const A = 1;</script><script>const A = 2;</script>"
        "</article></main></body></html>", encoding="utf-8")
    global HTML
    saved, HTML = HTML, tmp_path
    try:
        problems = page_problems(browser, "bad.html")
    finally:
        HTML = saved
    text = "\n".join(problems[WIDTH])
    for expected in ["raw $..$ math", "raw {eq}", "raw {footcite}", "double parentheses", "raw Markdown table",
                     "scrolls sideways", "wider than the column", "without a figure caption",
                     "Colab link not pointing", "has already been declared", "see (ch3-momentum)",
                     "(opt-adam-update)", "alt text is not words", "runs under its number",
                     "MathJax never started"]:
        assert expected in text, f"the check for {expected!r} did not fire:\n{text}"
    # what the width does not change is reported once, at the first width
    once = ("MathJax", "JavaScript console", "raw markup", "Colab link", "output image without", "image alt text")
    assert not [p for p in problems[PHONE] if p.startswith(once)], problems[PHONE]


PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def test_the_phone_checks_catch_small_figure_text_and_clipped_buttons(browser, tmp_path):
    """At 390 px: a 6.4-inch figure squeezed to the column has unreadable text; a player wider than the column."""
    (tmp_path / "phone.html").write_text(
        "<html><head><meta name='viewport' content='width=device-width'></head><body><main>"
        "<article class='bd-article'>"
        f"<figure><div class='cell_output'><img src='{PIXEL}' width='640' style='width:100%' alt='a curve'></div>"
        "<figcaption>A curve</figcaption></figure>"
        "<div class='animation'><div style='display:flex;width:900px'><button title='Next frame'>&gt;</button>"
        "<button style='margin-left:700px' title='Last frame'>&gt;&gt;</button></div></div>"
        "</article></main></body></html>", encoding="utf-8")
    global HTML
    saved, HTML = HTML, tmp_path
    try:
        problems = page_problems(browser, "phone.html")
    finally:
        HTML = saved
    text = "\n".join(problems[PHONE])
    assert "figure text too small at 390 px" in text, text
    assert "animation button outside the column at 390 px: Last frame" in text, text
    # measured after narrowing the window the page was loaded in: at 1280 px the same page is fine
    assert not any("too small" in p or "outside the column" in p for p in problems[WIDTH]), problems[WIDTH]
