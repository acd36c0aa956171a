"""Write each page's claims ledger as a machine-readable file in the build output.

A page's last cell calls ``course_lib.claims.ledger()``, whose HTML output carries the page's claims as
JSON inside ``<script type="application/vnd.course.ledger+json" class="claims-ledger-data">``. After a
successful HTML build this extension copies that JSON to ``_ledger/<page>.json`` beside the pages, with
the page's name added, so that tests (``tests/book/test_built_book.py``) and people can read every page's
claims without parsing HTML. A page with two ledgers is an error: each page has one.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

LEDGER_RE = re.compile(
    r'<script type="application/vnd\.course\.ledger\+json" class="claims-ledger-data">(.*?)</script>',
    re.DOTALL,
)
FOLDER = "_ledger"


def extract(page_html: str) -> list[dict] | None:
    """The ledger records in one built page (None when the page has no ledger)."""
    found = LEDGER_RE.findall(page_html)
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"{len(found)} ledgers on one page; a page has exactly one")
    return json.loads(html.unescape(found[0]) if "&quot;" in found[0] else found[0])["claims"]


def write_ledgers(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    target = out / FOLDER
    target.mkdir(exist_ok=True)
    for old in target.glob("*.json"):
        old.unlink()
    for page in sorted(out.rglob("*.html")):
        # "_book_print.html" is `make pdf`'s assembly of every page (left in the output by an earlier
        # build): not a page of the book
        if FOLDER in page.parts or page.name.startswith("_"):
            continue
        try:
            records = extract(page.read_text(encoding="utf-8"))
        except ValueError as error:
            raise ExtensionError(f"{page.relative_to(out)}: {error}") from error
        if records is None:
            continue
        name = page.relative_to(out).with_suffix("").as_posix()
        (target / (name.replace("/", "__") + ".json")).write_text(
            json.dumps({"page": name, "claims": records}, indent=1), encoding="utf-8"
        )


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", write_ledgers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
