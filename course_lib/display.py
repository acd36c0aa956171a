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

__all__ = ["docstring_markdown", "optimizer_equation_tags", "show_source", "source_without_docstring"]

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
    return _tag_labels(source, _owner(obj))


# --- the optimizers' equation labels (opt-…) shown as tags ---------------------------------------------------
# An optimizer's docstring writes its update as an aligned display with one label per line,
# ``&& \text{(opt-adam-update)}``, and its code repeats the label in a comment, ``# (opt-adam-update)``.
# A label is a name, not something a reader can look up; so on the page each becomes a tag that the
# display shows at the end of its line, ``\tag{Adam.4}``, and the code comment names, ``# (Adam.4)``: the
# class that defines the equation and its line number in that class's display.
#: A label mentioned in text or code: bare (inside "(…)") or as reST/Markdown code (``opt-x``, `opt-x`).
_OPT_MENTION = re.compile(r"(?P<quote>``|`)?(?<![\w-])(?P<label>opt-[a-z0-9]+(?:-[a-z0-9]+)*)(?![\w-])(?(quote)(?P=quote))")
_OPT_IN_MATH = re.compile(r"\\text\{\((opt-[a-z0-9-]+)\)\}")


def _owner(obj) -> str | None:
    """The name of the class ``obj`` is (or is a method of), else None."""
    if inspect.isclass(obj):
        return obj.__name__
    qualname = getattr(obj, "__qualname__", "")
    if "." in qualname:
        return qualname.split(".")[0]
    return qualname if inspect.isfunction(obj) and _math_labels(obj) else None


def _math_labels(cls) -> list[str]:
    return list(dict.fromkeys(_OPT_IN_MATH.findall(inspect.getdoc(cls) or "")))


def _labelled_objects() -> dict[str, object]:
    """The classes of ``course_lib.optim`` and the functions of its modules (``newton_schulz``), by name."""
    import pkgutil

    from course_lib import optim

    found = {name: obj for name, obj in vars(optim).items() if inspect.isclass(obj)}
    for info in pkgutil.iter_modules(optim.__path__):
        module = __import__(f"course_lib.optim.{info.name}", fromlist=["_"])
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                found.setdefault(name, obj)
    return found


def optimizer_equation_tags(first: str | None = None) -> dict[str, str]:
    """``{"opt-adam-update": "Adam.4", …}``: each ``opt-`` label of ``course_lib.optim`` and its tag.

    A label's tag is ``<class>.<k>``: the ``k``-th labelled line of the display in the docstring of the
    class that defines it; the class ``first`` (the one being shown) is asked first, then every
    optimizer in alphabetical order. A function of ``course_lib.optim`` with labelled equations in its
    docstring (``newton_schulz``) tags them with its own name (``newton-schulz.2``).
    """
    from course_lib.optim import _base

    # the steps every optimizer shares (maximize, L2 decay) are written in the docstring of optim._base
    classes = {name: obj for name, obj in {**_labelled_objects(), "CourseOptimizer": _base}.items()
               if _math_labels(obj)}
    # decoupled weight decay (opt-common-…) is introduced by AdamW (chapter 6)
    order = [n for n in ([first, "CourseOptimizer", "AdamW"] + sorted(classes)) if n in classes]
    tags: dict[str, str] = {}
    for name in order:
        for k, label in enumerate(_math_labels(classes[name]), start=1):
            # a function's name without "_" (MathJax typesets a tag as text, where "_" is an error)
            prefix = "Common" if name == "CourseOptimizer" else name.replace("_", "-")
            tags.setdefault(label, f"{prefix}.{k}")
    return tags


def _math_blocks(lines: list[str]):
    """Each reST ``.. math::`` block of ``lines``: (first line, line after it, dedented body).

    The body is the directive's argument and its indented lines, blank lines kept, options such as
    ``:label:`` dropped.
    """
    i = 0
    while i < len(lines):
        match = re.match(r"^([ \t]*)\.\. math::[ \t]*(.*)$", lines[i])
        if match is None:
            i += 1
            continue
        start, indent = i, len(match.group(1))
        body = [match.group(2)] if match.group(2).strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            if not re.match(r"^[ \t]*:(label|nowrap|name|class):", lines[i]):
                body.append(lines[i])
            i += 1
        yield start, i, textwrap.dedent("\n".join(body)).strip()


def _defined_lines() -> dict[str, str]:
    """``{label: TeX}``: the equation of every ``opt-`` label, without its label and alignment marks.

    An equation of a display may span several source lines (its label then stands on a continuation
    line); equations are separated by the ``\\\\`` that ends them or by a blank line.
    """
    from course_lib.optim import _base

    lines: dict[str, str] = {}
    for cls in [_base, *_labelled_objects().values()]:
        for *_, body in _math_blocks((inspect.getdoc(cls) or "").splitlines()):
            for equation in re.split(r"\\\\[ \t]*(?:\n|$)|\n[ \t]*\n", body):
                found = _OPT_IN_MATH.search(equation)
                if found and found.group(1) not in lines:
                    tex = _LABEL_TEXT.sub("", equation).replace("&", "")
                    lines[found.group(1)] = " ".join(tex.split())
    return lines


def _other_tags_note(markdown: str, owner: str | None) -> str:
    """A display that writes out each tag the shown code names but its own display does not show."""
    tags = optimizer_equation_tags(owner)
    shown = set(re.findall(r"\\tag\{([^}]*)\}", markdown))
    named = dict.fromkeys(re.findall(r"\b((?:" + "|".join(sorted({t.split(".")[0] for t in tags.values()})) + r")\.\d+)\b",
                                     markdown))
    missing = [t for t in named if t not in shown]
    if not missing:
        return ""
    lines, by_tag = _defined_lines(), {t: label for label, t in tags.items()}
    rows = [f"{lines[by_tag[t]]} \\tag{{{t}}}" for t in missing if by_tag.get(t) in lines]
    if not rows:
        return ""
    # a display, not inline math: a tag is the number the code's comments name, and Markdown would
    # take the backslash of ``\,`` inside inline math for an escape
    return ("Equations the code's comments name, from the docstrings:\n\n"
            "\\begin{gather*}\n" + " \\\\\n".join(rows) + "\n\\end{gather*}")


def _tag_labels(text: str, owner: str | None) -> str:
    """``text`` with every known ``opt-`` label (``(opt-x)``, ````opt-x````, ```opt-x```) shown as ``(tag)``."""
    if "opt-" not in text:
        return text
    tags = optimizer_equation_tags(owner)

    def tag(match: re.Match) -> str:
        label = match.group("label")
        if label not in tags:
            return match.group(0)
        return f"({tags[label]})" if match.group("quote") else tags[label]

    return _OPT_MENTION.sub(tag, text)


_LABEL_TEXT = re.compile(r"[ \t]*(?:&&|\\qquad|\\quad)?[ \t]*\\text\{\((?:opt|ch\d+)-[a-z0-9-]+\)\}")


def _display_math(doc: str, tags: dict[str, str] | None = None) -> str:
    """Turn each reST ``.. math::`` block (options such as ``:label:``, blank lines, indented body) into ``$$``.

    A block whose lines carry ``opt-`` labels becomes a top-level ``align*`` with a ``\\tag`` per line
    (``tags`` maps each label to its tag, see :func:`optimizer_equation_tags`).
    """
    tags = tags or {}
    lines, out, done = doc.splitlines(), [], 0
    for start, end, math in _math_blocks(lines):
        out += lines[done:start]
        done = end
        # the equation labels written beside each line, e.g. "&& \text{(opt-adam-update)}", would make
        # the display wider than the page's column; the code's comments carry the same labels
        tagged = any(label in tags for label in _OPT_IN_MATH.findall(math))
        math = _LABEL_TEXT.sub(lambda m: _tag_for(m.group(0), tags), math)
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
        if tagged:  # an aligned block of the docstring's own becomes the align* (\\tag is not allowed in aligned)
            math = re.sub(r"^\\begin\{aligned\}\s*|\s*\\end\{aligned\}$", "", math.strip())
        if tagged and "\\begin{" not in math:
            # tags need a numbered environment: a top-level align* (MathJax and MyST's amsmath read it)
            out += ["", f"\\begin{{align*}}\n{math}\n\\end{{align*}}", ""]
            continue
        if ("&" in math or "\\\\" in math) and "\\begin{" not in math:
            math = f"\\begin{{aligned}}\n{math}\n\\end{{aligned}}"  # reST's math:: aligns; MathJax needs an env
        out += ["", "$$", math, "$$", ""]
    out += lines[done:]
    return "\n".join(out)


def _tag_for(text: str, tags: dict[str, str]) -> str:
    found = _OPT_IN_MATH.search(text)
    return f" \\tag{{{tags[found.group(1)]}}}" if found and found.group(1) in tags else ""


def docstring_markdown(obj) -> str:
    r"""The docstring of ``obj`` as Markdown: reST ``:math:`x``` becomes ``$x$``, ``.. math::`` a display.

    ``opt-`` equation labels become tags (:func:`optimizer_equation_tags`), and the paragraph that lists
    them ("Equation labels: …"), which the tags make redundant, is dropped.
    """
    doc = inspect.getdoc(obj) or ""
    doc = re.sub(r"(?ms)^Equation labels:.*?(?:\n[ \t]*\n|\Z)", "", doc)
    owner = _owner(obj)
    tags = optimizer_equation_tags(owner) if "opt-" in doc else {}
    doc = re.sub(r":math:`([^`]*)`", lambda m: f"${m.group(1)}$", doc)
    doc = re.sub(r":(?:func|class|mod|meth|attr|data):`~?([^`]*)`", r"`\1`", doc)

    doc = _display_math(doc, tags)
    doc = _tag_labels(doc, owner)
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
    note = _other_tags_note("\n\n".join(parts), _owner(obj))
    if note:
        parts.append(note)
    display(Markdown("\n\n".join(parts)))
