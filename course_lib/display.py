"""Show ``course_lib``'s own code on a page: one source of truth, never a copy that can drift.

:func:`show_source` renders an object's docstring as Markdown (so its math is typeset as math) and its
code without the docstring. Argument validation, which teaches nothing about the update, is folded away:
the lines between ``# --- validation`` and ``# --- end validation`` markers are replaced by one comment
line, unless ``full=True``.
"""

from __future__ import annotations

import inspect
import re
import textwrap

__all__ = ["docstring_markdown", "show_source", "source_without_docstring"]

_VALIDATION = re.compile(r"^(?P<indent>[ \t]*)# --- validation\b.*?^[ \t]*# --- end validation[^\n]*\n",
                         re.MULTILINE | re.DOTALL)


def source_without_docstring(obj, full: bool = False) -> str:
    """The source of ``obj`` with its docstring removed (and validation folded unless ``full``)."""
    source = textwrap.dedent(inspect.getsource(obj))
    doc = inspect.getdoc(obj)
    if doc:
        source = re.sub(r'^([ \t]*)[rubRUB]?("""|\'\'\')(.*?)\2[ \t]*\n', "", source, count=1,
                        flags=re.MULTILINE | re.DOTALL)
    if not full:
        source = _VALIDATION.sub(lambda m: f"{m.group('indent')}# (argument checks omitted)\n", source)
    return source


_LABEL_TEXT = re.compile(r"[ \t]*(?:&&|\\qquad|\\quad)?[ \t]*\\text\{\((?:opt|ch\d+)-[a-z0-9-]+\)\}")


def _display_math(doc: str) -> str:
    """Turn each reST ``.. math::`` block (options such as ``:label:``, blank lines, indented body) into ``$$``."""
    lines, out, i = doc.splitlines(), [], 0
    while i < len(lines):
        match = re.match(r"^([ \t]*)\.\. math::[ \t]*(.*)$", lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent, body = len(match.group(1)), [match.group(2)] if match.group(2).strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            if not re.match(r"^[ \t]*:(label|nowrap|name|class):", lines[i]):
                body.append(lines[i])
            i += 1
        math = textwrap.dedent("\n".join(body)).strip()
        # the equation labels written beside each line, e.g. "&& \text{(opt-adam-update)}", would make
        # the display wider than the page's column; the code's comments carry the same labels
        math = _LABEL_TEXT.sub("", math)
        # no blank lines inside a display (Sphinx would cut it there), and a line break that stood
        # alone on a label's continuation line goes back to the end of its equation
        kept: list[str] = []
        for line in math.splitlines():
            if not line.strip():
                continue
            if line.strip() == "\\\\" and kept:
                kept[-1] = kept[-1].rstrip() + " \\\\"
            else:
                kept.append(line)
        math = "\n".join(kept)
        if ("&" in math or "\\\\" in math) and "\\begin{" not in math:
            math = f"\\begin{{aligned}}\n{math}\n\\end{{aligned}}"  # reST's math:: aligns; MathJax needs an env
        out += ["", "$$", math, "$$", ""]
    return "\n".join(out)


def docstring_markdown(obj) -> str:
    r"""The docstring of ``obj`` as Markdown: reST ``:math:`x``` becomes ``$x$``, ``.. math::`` a display."""
    doc = inspect.getdoc(obj) or ""
    doc = re.sub(r":math:`([^`]*)`", lambda m: f"${m.group(1)}$", doc)
    doc = re.sub(r":(?:func|class|mod|meth|attr|data):`~?([^`]*)`", r"`\1`", doc)

    doc = _display_math(doc)
    doc = re.sub(r"``([^`]+)``", r"`\1`", doc)
    return doc.strip()


def show_source(obj, *, full: bool = False, docstring: bool = True) -> None:
    """Display ``obj``'s docstring (as Markdown with math) and its actual source code.

    Args:
        obj: a function, class or method of ``course_lib`` (anything ``inspect.getsource`` accepts).
        full: also show the argument validation (folded to one comment line by default).
        docstring: show the docstring above the code.
    """
    from IPython.display import Markdown, display

    parts = []
    if docstring:
        text = docstring_markdown(obj)
        if text:
            parts.append(text)
    parts.append(f"```python\n{source_without_docstring(obj, full=full)}```")
    display(Markdown("\n\n".join(parts)))
