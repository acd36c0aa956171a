"""Colab editions of the chapters: the same code, with Markdown that plain Jupyter (and Colab) renders.

The chapters are written in MyST Markdown for the book: labelled equations ``$$ … $$ (ch3-momentum)``,
references ``{eq}`ch3-momentum```, citations ``{footcite:p}`su2018```, directives (admonitions,
exercises, ``{include}``). Colab shows all of that as raw text. This module writes, for every chapter
listed in ``_toc.yml``, a notebook ``colab/<chapter>.ipynb`` whose code cells are the chapter's (same
source, same order) and whose Markdown is plain Jupyter Markdown:

* a labelled display gets the number the book shows, ``\\tag{12}``; ``{eq}`label``` and a raw ``(label)``
  become ``(12)``; labels are numbered as Sphinx numbers them (one counter over the book, in
  ``_toc.yml`` order, labelled displays only);
* ``{footcite:p}`a,b``` becomes ``([Su, 2018](…/bibliography.html); …)`` and ``{footcite:t}`` ``Su (2018)``,
  linked to the book's bibliography page; ``{footbibliography}`` becomes the list of the works cited;
* admonitions, exercises and other directives become block quotes with a bold title; solutions are left
  out (the exercises' introduction links the solutions notebook); ``{include}`` is inlined (the
  exercises); ``(target)=`` lines are dropped; ``{doc}`` and links to ``.md``/``.ipynb`` pages point at
  the book's HTML pages;
* a figure's caption (cell metadata ``mystnb.figure.caption``) follows its cell as an italic paragraph.

The editions are kept in the repository, so a Colab link opens them directly; ``tests/tools/test_colab_editions.py``
fails when one is older than its chapter, when MyST syntax is left in one, or when its code differs.

Regenerate them with one command::

    python -m course_tools colab build
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Folder of the editions, relative to the repository root.
FOLDER = "colab"
GENERATED_BY = "python -m course_tools colab build"

_EQ_LABEL_DEF = re.compile(r"\$\$(?P<body>.+?)\$\$[ \t]*\((?P<label>[\w-]+)\)", re.DOTALL)
_ANY_DISPLAY = re.compile(r"\$\$.+?\$\$", re.DOTALL)
_ROLE = re.compile(r"\{(?P<role>[\w:-]+)\}`(?P<text>[^`]*)`")
_RAW_LABEL = re.compile(r"\((?P<label>ch\d+-[a-z0-9][a-z0-9-]*)\)")
_TARGET = re.compile(r"^\([\w-]+\)=[ \t]*\n", re.MULTILINE)
_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")


# --- the book's configuration and numbering -------------------------------------------------------------------

def _yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def book_url(root: Path) -> str:
    """Where the HTML book is published: ``html.baseurl`` of ``_config.yml``, else GitHub Pages of the repo."""
    config = _yaml(root / "_config.yml")
    base = (config.get("html") or {}).get("baseurl")
    if base:
        return base.rstrip("/") + "/"
    repo = (config.get("repository") or {}).get("url", "").rstrip("/").removesuffix(".git")
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+)", repo)
    if not match:
        raise ValueError(f"set html.baseurl in _config.yml: cannot derive the book's URL from {repo!r}")
    return f"https://{match.group(1).lower()}.github.io/{match.group(2)}/"


def toc_pages(root: Path) -> list[str]:
    """Every page of ``_toc.yml`` (root first), as ``chapters/01_x`` without suffix, in reading order."""
    toc = _yaml(root / "_toc.yml")
    pages = [toc["root"]]
    for part in toc.get("parts") or [{"chapters": toc.get("chapters", [])}]:
        pages += [ch["file"] for ch in part.get("chapters", []) if "file" in ch]
    return pages


def _source(root: Path, page: str) -> Path | None:
    for suffix in (".ipynb", ".md"):
        if (root / f"{page}{suffix}").is_file():
            return root / f"{page}{suffix}"
    return None


def _read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _markdown_of(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text(encoding="utf-8")]
    return [_cell_source(c) for c in _read_notebook(path)["cells"] if c["cell_type"] == "markdown"]


@dataclass
class Book:
    """What a page's conversion needs to know about the whole book."""

    root: Path
    url: str
    equations: dict[str, str] = field(default_factory=dict)  # label -> "12"
    titles: dict[str, str] = field(default_factory=dict)  # page -> its title
    bib: dict[str, dict] = field(default_factory=dict)  # key -> {"authors": [...], "year", "title", "url"}

    def page_url(self, page: str) -> str:
        return f"{self.url}{page}.html"


def _included(root: Path, page_path: Path, text: str) -> list[Path]:
    return [(page_path.parent / m.group(1).strip()).resolve()
            for m in re.finditer(r"^`{3,}\{include\}[ \t]*(\S+)", text, re.MULTILINE)]


def load_book(root: str | Path) -> Book:
    """Titles, equation numbers (as Sphinx assigns them) and the bibliography of the book at ``root``."""
    root = Path(root)
    book = Book(root, book_url(root))
    number = 0
    for page in toc_pages(root):
        path = _source(root, page)
        if path is None:
            continue
        texts = _markdown_of(path)
        for text in texts:
            for inc in _included(root, path, text):
                texts = [*texts, inc.read_text(encoding="utf-8")] if inc.is_file() else texts
        heading = next((m.group(1).strip() for t in texts for m in [re.search(r"^#\s+(.+)$", t, re.MULTILINE)] if m), page)
        book.titles[page] = heading
        for text in texts:
            for match in _EQ_LABEL_DEF.finditer(text):
                number += 1
                book.equations[match.group("label")] = str(number)
    book.bib = read_bibliography(root / "references.bib")
    return book


def read_bibliography(path: Path) -> dict[str, dict]:
    """``{key: {"authors": [last names], "year", "title", "url"}}`` from a BibTeX file (pybtex)."""
    from pybtex.database import parse_file

    def plain(text: str) -> str:
        return re.sub(r"\\([_&%$#])", r"\1", text.replace("{", "").replace("}", "")).strip()

    out = {}
    for key, entry in parse_file(str(path)).entries.items():
        people = entry.persons.get("author", []) or entry.persons.get("editor", [])
        authors = [plain(" ".join(p.last_names) or " ".join(p.first_names)) for p in people]
        if not authors:
            authors = [plain(entry.fields.get("author", entry.fields.get("organization", key)))]
        out[key] = {"authors": authors, "year": plain(entry.fields.get("year", "n.d.")),
                    "title": plain(entry.fields.get("title", key)),
                    "url": entry.fields.get("url") or (f"https://doi.org/{entry.fields['doi']}"
                                                        if "doi" in entry.fields else "")}
    return out


# --- Markdown conversion -------------------------------------------------------------------------------------

def _author_text(authors: list[str]) -> str:
    if len(authors) > 1 and authors[-1] == "others":  # BibTeX's "and others"
        return f"{authors[0]} et al."
    if len(authors) == 1:
        return authors[0]
    if len(authors) == 2:
        return f"{authors[0]} and {authors[1]}"
    return f"{authors[0]} et al."


def _convert_roles(text: str, book: Book, cited: list[str]) -> str:
    bibliography = book.page_url("chapters/bibliography")

    def role(match: re.Match) -> str:
        name, body = match.group("role"), match.group("text")
        if name == "eq":
            return f"({book.equations.get(body, body)})"
        if name.startswith(("footcite", "cite")):
            keys = [k.strip() for k in body.split(",") if k.strip()]
            for key in keys:
                if key not in cited:
                    cited.append(key)
            found = [(k, book.bib.get(k, {"authors": [k], "year": ""})) for k in keys]
            if name.endswith(":t"):
                return "; ".join(f"[{_author_text(e['authors'])} ({e['year']})]({bibliography})" for _, e in found)
            inner = "; ".join(f"[{_author_text(e['authors'])}, {e['year']}]({bibliography})" for _, e in found)
            return f"({inner})"
        if name == "doc":
            title, _, target = body.partition("<")
            page = (target.rstrip(">") if target else body).strip().lstrip("/")
            page = page.removesuffix(".md").removesuffix(".ipynb")
            if page.startswith(".."):
                page = page.removeprefix("../")
            elif not page.startswith("chapters/") and page != "index":
                page = f"chapters/{page}"
            label = title.strip() if target else book.titles.get(page, page)
            return f"[{label}]({book.page_url(page)})"
        if name in {"math"}:
            return f"${body}$"
        # any other role ({ref}, {numref}, {term}, …): its text
        return re.sub(r"\s*<[^>]*>$", "", body)

    return _ROLE.sub(role, text)


def _convert_links(text: str, book: Book) -> str:
    def link(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"[a-z]+:", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        page = path.removesuffix(".md").removesuffix(".ipynb").lstrip("./")
        if not page.startswith("chapters/") and page not in ("index", ""):
            page = f"chapters/{page}"
        url = book.page_url(page) + (f"#{anchor}" if anchor else "")
        return f"[{label}]({url})"

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+\.(?:md|ipynb)(?:#[^)\s]*)?)\)", link, text)


def _convert_equations(text: str, book: Book) -> str:
    def tagged(match: re.Match) -> str:
        label = match.group("label")
        number = book.equations.get(label)
        body = match.group("body").rstrip()
        if number is None:
            return f"$${body}$$"
        multiline = "\n" in body.strip()
        return f"$${body}{chr(10) if multiline else ' '}\\tag{{{number}}}{chr(10) if multiline else ' '}$$"

    return _EQ_LABEL_DEF.sub(tagged, text)


def _raw_labels(text: str, book: Book) -> str:
    """``(ch3-momentum)`` written in text (outside math) becomes ``(12)``."""
    out, last = [], 0
    for display in re.finditer(r"\$\$.+?\$\$|\$[^$\n]+\$|`[^`\n]*`", text, re.DOTALL):
        out.append(_RAW_LABEL.sub(lambda m: f"({book.equations.get(m.group('label'), m.group('label'))})",
                                  text[last:display.start()]))
        segment = display.group(0)
        if segment.startswith("`"):  # a label in inline code: the number, still as code
            segment = _RAW_LABEL.sub(lambda m: f"({book.equations.get(m.group('label'), m.group('label'))})",
                                     segment)
        out.append(segment)
        last = display.end()
    out.append(_RAW_LABEL.sub(lambda m: f"({book.equations.get(m.group('label'), m.group('label'))})", text[last:]))
    return "".join(out)


_ADMONITION_TITLES = {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important",
                      "caution": "Caution", "attention": "Attention", "hint": "Hint", "seealso": "See also",
                      "danger": "Danger", "error": "Error", "proof": "Proof", "theorem": "Theorem",
                      "prf:proof": "Proof", "prf:theorem": "Theorem", "prf:lemma": "Lemma"}


def _directives(text: str, book: Book, page_path: Path, cited: list[str],
                convert: Callable[[str], str]) -> str:
    """Replace every fenced directive by plain Markdown (block quotes, inlined includes, references)."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE_OPEN.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent, fence, name, arg = match.group("indent", "fence", "name", "arg")
        # the body runs to the closing fence of the same characters and length at least as long
        j = i + 1
        closing = re.compile(rf"^{re.escape(indent)}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        body = lines[i + 1:j]
        options = {}
        while body and re.match(r"^[ \t]*:[\w-]+:", body[0]):
            key, _, value = body.pop(0).strip()[1:].partition(":")
            options[key] = value.strip()
        content = "\n".join(line.removeprefix(indent) for line in body).strip("\n")
        i = j + 1
        if name == "include":
            target = (page_path.parent / arg.strip()).resolve()
            included = target.read_text(encoding="utf-8") if target.is_file() else ""
            included = re.sub(r"^<!--.*?-->\s*", "", included, flags=re.DOTALL)
            out += convert_markdown(included, book, target, cited).split("\n")
            continue
        if name in ("footbibliography", "bibliography"):
            out += _references(cited, book).split("\n")
            continue
        if name == "solution":
            continue  # the exercises' introduction links the solutions notebook
        if name in ("code-cell", "code-block", "code", "sourcecode"):
            out += [f"{indent}```{arg.strip() or 'python'}", *body, f"{indent}```"]
            continue
        if name in ("math",):
            out += [f"{indent}$$", content, f"{indent}$$"]
            continue
        if name in ("figure", "image"):
            caption = content.strip()
            out.append(f"{indent}![{caption or 'figure'}]({arg.strip()})")
            if caption:
                out += ["", f"{indent}*{caption}*"]
            continue
        title = arg.strip() or _ADMONITION_TITLES.get(name, name.split(":")[-1].capitalize())
        if name == "exercise":
            title = f"Exercise {title}"
        inner = convert(content)
        quoted = [f"{indent}> **{title}**", f"{indent}>"]
        quoted += [f"{indent}> {line}".rstrip() for line in inner.split("\n")]
        out += quoted
    return "\n".join(out)


def _references(cited: list[str], book: Book) -> str:
    if not cited:
        return ""
    lines = ["**References**", ""]
    for key in cited:
        entry = book.bib.get(key)
        if entry is None:
            lines.append(f"- {key}")
            continue
        title = f"[{entry['title']}]({entry['url']})" if entry["url"] else entry["title"]
        names = ", ".join(entry["authors"]).replace(", others", " et al.")
        lines.append(f"- {names} ({entry['year']}). {title}.")
    lines += ["", f"All works cited in the course: the [bibliography]({book.page_url('chapters/bibliography')})."]
    return "\n".join(lines)


def convert_markdown(text: str, book: Book, page_path: Path, cited: list[str]) -> str:
    """One page's (or cell's) MyST Markdown as plain Jupyter Markdown (``cited`` collects citation keys)."""

    def convert(inner: str) -> str:
        return convert_markdown(inner, book, page_path, cited)

    text = _TARGET.sub("", text)
    for role in _ROLE.finditer(text):  # citations before a {footbibliography} in the same text
        if role.group("role").startswith(("footcite", "cite")):
            cited += [k.strip() for k in role.group("text").split(",") if k.strip() and k.strip() not in cited]
    text = _directives(text, book, page_path, cited, convert)
    text = _convert_equations(text, book)
    text = _convert_roles(text, book, cited)
    text = _convert_links(text, book)
    return _raw_labels(text, book)


# --- notebooks ---------------------------------------------------------------------------------------------------

def _new_id(existing: set[str], base: str) -> str:
    candidate, k = base, 1
    while candidate in existing:
        k += 1
        candidate = f"{base}-{k}"
    existing.add(candidate)
    return candidate


def colab_edition(root: Path, page: str, book: Book) -> dict:
    """The Colab edition (an nbformat-4 dict) of the chapter notebook ``root/page.ipynb``."""
    path = root / f"{page}.ipynb"
    nb = _read_notebook(path)
    cited: list[str] = []
    cells: list[dict] = []
    ids = {c.get("id", "") for c in nb["cells"]}
    for index, cell in enumerate(nb["cells"]):
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
            cells.append(cell)
            caption = ((cell.get("metadata", {}).get("mystnb") or {}).get("figure") or {}).get("caption")
            if caption:
                text = convert_markdown(caption, book, path, cited).strip()
                note = {"cell_type": "markdown", "metadata": {}, "source": f"*Figure: {text}*"}
                if "id" in cell:
                    note["id"] = _new_id(ids, f"{cell['id']}-caption")
                cells.append(note)
            continue
        if cell["cell_type"] == "markdown":
            cell["source"] = convert_markdown(_cell_source(cell), book, path, cited).strip("\n")
            if index == 1 or (index == 0 and not cells):
                cell["source"] = _banner(page, book, cell["source"])
        cells.append(cell)
    metadata = copy.deepcopy(nb.get("metadata", {}))
    metadata["colab"] = {"name": f"{Path(page).name}.ipynb", "provenance": [], "toc_visible": True}
    metadata.setdefault("accelerator", "GPU")
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": nb.get("nbformat_minor", 5)}


def _banner(page: str, book: Book, source: str) -> str:
    note = (f"*Colab edition of [this chapter of the book]({book.page_url(page)}), generated from "
            f"`{page}.ipynb` by `{GENERATED_BY}`. The code is the book's; run the first cell first.*")
    lines = source.split("\n")
    if lines and lines[0].startswith("# "):
        return "\n".join([lines[0], "", note, *lines[1:]])
    return note + "\n\n" + source


def chapter_pages(root: Path) -> list[str]:
    """The notebooks of ``_toc.yml`` (without suffix): the pages that get a Colab edition."""
    return [p for p in toc_pages(root) if (root / f"{p}.ipynb").is_file()]


def edition_path(root: Path, page: str) -> Path:
    return root / FOLDER / f"{Path(page).name}.ipynb"


def render(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def build(root: str | Path = ".", check_only: bool = False, out=None) -> list[str]:
    """Write (or with ``check_only``, compare) every Colab edition; returns the stale or written paths."""
    import sys

    out = out or sys.stdout
    root = Path(root)
    book = load_book(root)
    changed = []
    expected = set()
    for page in chapter_pages(root):
        target = edition_path(root, page)
        expected.add(target.name)
        text = render(colab_edition(root, page, book))
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            changed.append(str(target.relative_to(root)))
            if not check_only:
                target.parent.mkdir(exist_ok=True)
                target.write_text(text, encoding="utf-8")
    folder = root / FOLDER
    for extra in sorted(folder.glob("*.ipynb")) if folder.is_dir() else []:
        if extra.name not in expected:
            changed.append(str(extra.relative_to(root)))
            if not check_only:
                extra.unlink()
    verb = "stale" if check_only else "wrote"
    for path in changed:
        print(f"{verb} {path}", file=out)
    if not changed:
        print(f"OK: {len(expected)} Colab editions in {FOLDER}/ are up to date", file=out)
    return changed
