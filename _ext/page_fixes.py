"""Small fixes to what the theme and extensions put on every page (checked by tests/book/test_browser.py).

* **Each inline script once.** sphinx-thebe and sphinx-togglebutton add their configuration as inline
  scripts (``const THEBE_JS_URL = …``) from event handlers that run after the HTML builder exists, so
  Sphinx 7.4 records each both in the builder (filename ``None``) and in the registry (filename ``""``),
  its equality test sees two different scripts, and each page carries them twice. The second ``const THEBE_JS_URL`` is a JavaScript error on every
  page ("Identifier 'THEBE_JS_URL' has already been declared"). The page context's script list is
  de-duplicated here (same file or same inline body and attributes: the first one is kept).
* **Exercise titles without parentheses.** sphinx-exercise writes an unnumbered exercise with a title as
  "Exercise (1.1 · Title)" and its solution as "Solution to Exercise (1.1 · Title)"; the course's
  titles carry their own number, so the parentheses are dropped: "Exercise 1.1 · Title".
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform


def _script_key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {})
    # an inline script's filename is None where the builder records it and "" where the registry does
    return (getattr(script, "filename", str(script)) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))


def unique_scripts(scripts: list) -> list:
    """``scripts`` without repeats (same file, or same inline body and attributes), in their order."""
    seen: set[tuple] = set()
    out = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            out.append(script)
    return out


def _deduplicate_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(list(context["script_files"]))


class ExerciseTitleWithoutParentheses(SphinxPostTransform):
    """'Exercise (1.1 · Title)' -> 'Exercise 1.1 · Title' (also in 'Solution to Exercise (…)')."""

    default_priority = 25  # after sphinx-exercise's own title post-transforms (priority 20)

    def run(self, **kwargs: Any) -> None:
        for title in self.document.findall(nodes.title):
            parent = title.parent
            if parent is None or not {"exercise", "solution"} & set(parent.get("classes", [])):
                continue
            for container in [title, *title.findall(nodes.reference)]:
                _drop_parentheses(container)


def _drop_parentheses(container: nodes.Element) -> None:
    """Replace a child Text ' (' … final Text ')' pair by ' ' … '' (only when both are direct children)."""
    texts = [(i, c) for i, c in enumerate(container.children) if isinstance(c, nodes.Text)]
    opening = [i for i, c in texts if str(c).endswith(" (")]
    closing = [i for i, c in texts if str(c).startswith(")")]
    if opening and closing and closing[-1] > opening[0]:
        i, j = opening[0], closing[-1]
        container.children[i] = nodes.Text(str(container.children[i])[:-2] + " ")
        rest = str(container.children[j])[1:]
        if rest:
            container.children[j] = nodes.Text(rest)
        else:
            del container.children[j]


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("html-page-context", _deduplicate_scripts, priority=900)
    app.add_post_transform(ExerciseTitleWithoutParentheses)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
