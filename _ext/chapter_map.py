"""The front page's chapter map, generated at build time from ``_toc.yml`` and the chapters themselves.

``index.md`` writes::

    ```{chapter-map}
    ```

and gets, for every part of ``_toc.yml`` and every page in it, a link with the page's own title, its
reading time (its prose words at :data:`WORDS_PER_MINUTE`), the source articles (000–004) it builds on
(the ``source 00N`` the page itself mentions) and its learning goals (the list after the page's
"**Learning goals.**"), folded. A chapter added to ``_toc.yml`` appears on the next build, with whatever
title and goals it has; nothing here names a chapter, so the map cannot go stale. Sphinx is told that
``index`` depends on ``_toc.yml`` and on every page listed, so an incremental build rebuilds it too.

:func:`chapter_entries` is the pure part (tested by ``tests/book/test_chapter_map.py``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

#: Reading speed for technical prose with formulas (words per minute).
WORDS_PER_MINUTE = 150
SOURCE_RE = re.compile(r"\b[Ss]ources?\s+(00[0-4])\b((?:\s*(?:,|and|or)\s*00[0-4]\b)*)")
GOALS_RE = re.compile(r"\*\*Learning goals\.?\*\*[^\n]*\n+((?:[ \t]*[-*] .*\n?(?:[ \t]+\S.*\n?)*)+)")


@dataclass
class Entry:
    """One page of the map."""

    docname: str
    title: str
    words: int
    sources: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)

    @property
    def minutes(self) -> int:
        """Reading time in minutes, rounded up to 5."""
        return max(5, 5 * math.ceil(self.words / WORDS_PER_MINUTE / 5))


@dataclass
class Part:
    caption: str
    entries: list[Entry]


def _page_text(path: Path) -> list[str]:
    """The Markdown of a page: a notebook's markdown cells, or a .md file's text."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in cells if c["cell_type"] == "markdown"]
    return [path.read_text(encoding="utf-8")]


def page_path(root: Path, file: str) -> Path:
    """The source file of a ``_toc.yml`` entry (``chapters/01_x`` -> chapters/01_x.ipynb or .md)."""
    for suffix in ("", ".ipynb", ".md"):
        path = root / f"{file}{suffix}"
        if path.is_file() and path.suffix in (".ipynb", ".md"):
            return path
    raise FileNotFoundError(f"_toc.yml lists {file!r}, but no {file}.ipynb or {file}.md exists")


def read_entry(root: Path, file: str) -> Entry:
    """Title, prose word count, cited sources and learning goals of one page."""
    texts = _page_text(page_path(root, file))
    text = "\n\n".join(texts)
    title = next((m.group(1).strip() for m in re.finditer(r"^#\s+(.+)$", text, re.MULTILINE)), file)
    prose = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.DOTALL)  # a display reads like a few words
    prose = re.sub(r"```.*?```", " ", prose, flags=re.DOTALL)
    words = len(re.findall(r"[A-Za-z][\w'’-]*", prose))
    sources: set[str] = set()
    for match in SOURCE_RE.finditer(text):
        sources.add(match.group(1))
        sources.update(re.findall(r"00[0-4]", match.group(2) or ""))
    goals: list[str] = []
    found = GOALS_RE.search(text)
    if found:
        for item in re.split(r"\n(?=[ \t]*[-*] )", found.group(1).strip()):
            goals.append(" ".join(item.strip().lstrip("-* ").split()))
    return Entry(file, title, words, sorted(sources), goals)


def read_toc(root: Path) -> dict:
    return yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))


def chapter_entries(root: str | Path) -> list[Part]:
    """Every part of ``root/_toc.yml`` with an :class:`Entry` per page, in reading order."""
    root = Path(root)
    toc = read_toc(root)
    parts = toc.get("parts") or [{"caption": "", "chapters": toc.get("chapters", [])}]
    out = []
    for part in parts:
        entries = [read_entry(root, ch["file"]) for ch in part.get("chapters", []) if "file" in ch]
        out.append(Part(part.get("caption", ""), entries))
    return out


def map_markdown(parts: list[Part]) -> str:
    """The map as MyST Markdown: a heading per part, a line per page, its learning goals folded."""
    lines: list[str] = []
    first_chapter = next((e for p in parts for e in p.entries if e.goals), None)
    for part in parts:
        if not part.entries:
            continue
        lines += [f"**{part.caption}**", ""] if part.caption else []
        for entry in part.entries:
            facts = [f"≈ {entry.minutes} min read"]
            if entry.sources:
                word = "source" if len(entry.sources) == 1 else "sources"
                facts.append(f"{word} {', '.join(entry.sources)}")
            start = " · **start here**" if entry is first_chapter else ""
            lines += [f"- {{doc}}`/{entry.docname}` — {' · '.join(facts)}{start}"]
            if entry.goals:
                lines += ["", "  ```{admonition} Learning goals", "  :class: dropdown", ""]
                lines += [f"  - {goal}" for goal in entry.goals]
                lines += ["  ```", ""]
        lines.append("")
    return "\n".join(lines)


class ChapterMap(SphinxDirective):
    """``{chapter-map}``: the generated map (no arguments, no content)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        root = Path(self.env.srcdir)
        parts = chapter_entries(root)
        self.env.note_dependency(str(root / "_toc.yml"))
        for part in parts:
            for entry in part.entries:
                self.env.note_dependency(str(page_path(root, entry.docname)))
        container = nodes.container(classes=["chapter-map"])
        self.state.nested_parse(StringList(map_markdown(parts).splitlines(), source="chapter-map"),
                                self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("chapter-map", ChapterMap)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
