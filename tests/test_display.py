"""show_source's docstring rendering: reST math becomes MathJax-ready Markdown."""

from __future__ import annotations

from course_lib.display import docstring_markdown, source_without_docstring


def _multi_line() -> None:
    r"""Two rules.

    .. math::
       a &= b && \text{(one)} \\
       c &= d && \text{(two)}
    """


def _single_line() -> None:
    r"""One rule.

    .. math::
       a = b
    """


def _validated(x: float) -> float:
    """Check, then return x."""
    # --- validation
    if x < 0:
        raise ValueError("x")
    # --- end validation
    return x


def test_aligned_math_blocks_are_wrapped_in_an_aligned_environment() -> None:
    text = docstring_markdown(_multi_line)
    assert "$$\n\\begin{aligned}\na &= b" in text and "\\end{aligned}\n$$" in text


def test_single_line_math_is_left_alone() -> None:
    text = docstring_markdown(_single_line)
    assert "$$\na = b\n$$" in text and "aligned" not in text


def test_validation_block_is_folded_unless_full() -> None:
    assert "# (argument checks omitted)" in source_without_docstring(_validated)
    assert "raise ValueError" in source_without_docstring(_validated, full=True)
