"""Equation labels that a reader would see as raw text become the equation numbers, linked.

The chapters label their displays (``$$ … $$ (ch3-momentum)``) and refer to them with ``{eq}`ch3-momentum```,
which MyST renders as the number. But a label also reaches the reader where no MyST role can be written: a
figure caption (cell metadata), a code comment (``# (ch2-sgd)``), a string the code prints, a docstring that
``show_source`` renders, an exercise text. This extension rewrites every ``(label)`` whose label names an
equation of the book (``(ch<N>-…)``) into ``(<a href="page.html#equation-label">N.k</a>)``, the number the
equation shows, in the HTML of every page (text only: never inside a tag, a script, a style or TeX).

The same pass sets each figure's ``alt`` text to its caption (myst-nb writes the image's file path there), so
that a screen reader reads the caption, with the labels already replaced by numbers.

An optimizer's equation label ``opt-…`` (``course_lib.optim``'s docstrings and code comments) that a page's
text mentions becomes the tag that ``show_source`` prints beside that equation, e.g. ``Adam.4``
(``course_lib.display.optimizer_equation_tags``).

A ``(ch<N>-…)`` label that names no equation is reported as a warning (the build runs with ``-W``, so it
fails); ``tests/book/test_browser.py`` also fails on any label left in a page's text.
"""

from __future__ import annotations

import html
import re
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: A parenthesised equation label as the chapters write them: (ch3-momentum), (ch10-x2).
LABEL_RE = re.compile(r"\((?P<label>ch\d+-[a-z0-9][a-z0-9-]*)\)")
#: Text segments between tags; a tag's attributes are never rewritten.
_TAG_RE = re.compile(r"<[^>]*>")
#: TeX inside text that MathJax typesets: \( … \), \[ … \], $$ … $$ (never rewritten).
_TEX_RE = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]|\$\$.*?\$\$", re.DOTALL)
_RAW_ELEMENTS = ("script", "style", "textarea")
#: An optimizer's equation label, as the chapters' prose mentions it (``opt-adam-amsgrad``).
OPT_RE = re.compile(r"(?<![\w-])opt-[a-z0-9]+(?:-[a-z0-9]+)+(?![\w-])")


def optimizer_tags() -> dict[str, str]:
    """``{"opt-adam-update": "Adam.6", …}`` from course_lib (empty when course_lib is not importable)."""
    try:
        from course_lib.display import optimizer_equation_tags
    except ImportError:  # pragma: no cover - the book is always built with course_lib installed
        return {}
    return optimizer_equation_tags()


def equation_numbers(app: Sphinx) -> dict[str, tuple[str, str]]:
    """``{label: (docname, "3.5")}`` for every labelled display equation of the book."""
    env = app.env
    equations = env.get_domain("math").equations  # label -> (docname, page-local serial number)
    numbers: dict[str, tuple[str, str]] = {}
    numfig = app.config.numfig and app.config.math_numfig
    for label, (docname, serial) in equations.items():
        number = str(serial)
        if numfig:
            found = env.toc_fignumbers.get(docname, {}).get("displaymath", {}).get(f"equation-{label}")
            if found:
                number = ".".join(map(str, found))
                number = app.config.math_numsep.join(number.rsplit(".", 1))
        numbers[label] = (docname, number)
    return numbers


def _replace_in_text(text: str, resolve, tags: dict[str, str]) -> str:
    def plain(segment: str) -> str:
        segment = LABEL_RE.sub(resolve, segment)
        return OPT_RE.sub(lambda m: tags.get(m.group(0), m.group(0)), segment) if tags else segment

    out, last = [], 0
    for tex in _TEX_RE.finditer(text):
        out.append(plain(text[last:tex.start()]))
        out.append(tex.group(0))
        last = tex.end()
    out.append(plain(text[last:]))
    return "".join(out)


def resolve_labels(body: str, link, unknown: set[str] | None = None, tags: dict[str, str] | None = None) -> str:
    """``body`` (HTML) with each ``(label)`` in its text replaced by ``(<a href=link(label)>N</a>)``.

    ``link(label)`` returns ``(href, number)`` or ``None`` for a label that names no equation (left as it is,
    and added to ``unknown``). ``tags`` maps optimizer labels (``opt-…``) to the tags shown for them.
    """
    tags = tags or {}

    def resolve(match: re.Match) -> str:
        found = link(match.group("label"))
        if found is None:
            if unknown is not None:
                unknown.add(match.group("label"))
            return match.group(0)
        href, number = found
        return f'(<a class="reference internal eqref" href="{html.escape(href)}">{number}</a>)'

    out, last, raw_until = [], 0, None
    for tag in _TAG_RE.finditer(body):
        segment = body[last:tag.start()]
        out.append(segment if raw_until else _replace_in_text(segment, resolve, tags))
        name = re.match(r"<\s*(/?)\s*([a-zA-Z0-9]+)", tag.group(0))
        if name:
            closing, element = name.group(1) == "/", name.group(2).lower()
            if raw_until is None and not closing and element in _RAW_ELEMENTS:
                raw_until = element
            elif raw_until == element and closing:
                raw_until = None
        out.append(tag.group(0))
        last = tag.end()
    tail = body[last:]
    out.append(tail if raw_until else _replace_in_text(tail, resolve, tags))
    return "".join(out)


_FIGURE_RE = re.compile(r"<figure\b.*?</figure>", re.DOTALL)
_IMG_ALT_RE = re.compile(r'(<img\b[^>]*?\balt=")([^"]*)(")')
_CAPTION_RE = re.compile(r"<figcaption>(.*?)</figcaption>", re.DOTALL)
_CAPTION_NUMBER_RE = re.compile(r'<span class="caption-number">.*?</span>', re.DOTALL)
_HEADERLINK_RE = re.compile(r'<a class="headerlink".*?</a>', re.DOTALL)


def caption_text(caption_html: str) -> str:
    """The plain text of a figure caption (without its "Fig. N" and its permalink)."""
    text = _HEADERLINK_RE.sub("", _CAPTION_NUMBER_RE.sub("", caption_html))
    text = html.unescape(_TAG_RE.sub("", text))
    return re.sub(r"\s+", " ", text).strip()


def alt_text_from_captions(body: str) -> str:
    """Every ``<img>`` inside a captioned ``<figure>`` gets the caption as its ``alt`` text."""

    def figure(match: re.Match) -> str:
        block = match.group(0)
        caption = _CAPTION_RE.search(block)
        if caption is None:
            return block
        alt = html.escape(caption_text(caption.group(1)), quote=True)
        return _IMG_ALT_RE.sub(lambda m: m.group(1) + alt + m.group(3), block)

    return _FIGURE_RE.sub(figure, body)


def _rewrite_page(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    if "body" not in context or app.builder.format != "html":
        return
    numbers = equation_numbers(app)
    single = app.builder.name == "singlehtml"

    def link(label: str):
        if label not in numbers:
            return None
        docname, number = numbers[label]
        page = "" if single or docname == pagename else app.builder.get_relative_uri(pagename, docname)
        return f"{page}#equation-{label}", number

    unknown: set[str] = set()
    body = resolve_labels(context["body"], link, unknown, optimizer_tags())
    context["body"] = alt_text_from_captions(body)
    for label in sorted(unknown):
        logger.warning("(%s) names no equation of the book: it stays raw text on the page", label,
                       location=pagename, type="course", subtype="equation-label")


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("html-page-context", _rewrite_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
