"""course_lib.display.show_source: the shown code is the real code minus docstring and validation; math renders."""

import inspect
import textwrap

import pytest

from course_lib import display
from course_lib.display import docstring_markdown, source_without_docstring


def sample_step(theta, grad, lr: float):
    r"""One step of gradient descent, :math:`\theta_{n+1} = \theta_n - \gamma g_n` (``ch1-gd``).

    The step is taken in place, see :func:`course_lib.dynamics.ode.gradient_descent`.

    .. math::
       :label: ch1-gd

       \theta_{n+1} = \theta_n - \gamma \nabla L(\theta_n)

    Returns the new point.
    """
    # --- validation
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    # --- end validation
    return theta - lr * grad(theta)  # (ch1-gd)


def no_docstring(x):
    return x + 1


#: What the reader sees of sample_step: written out, not recomputed from its source.
SHOWN = """def sample_step(theta, grad, lr: float):
    # (argument checks omitted)
    return theta - lr * grad(theta)  # (ch1-gd)
"""
SHOWN_FULL = """def sample_step(theta, grad, lr: float):
    # --- validation
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    # --- end validation
    return theta - lr * grad(theta)  # (ch1-gd)
"""


def test_shown_code_is_the_real_source_without_docstring_and_with_validation_folded():
    assert source_without_docstring(sample_step) == SHOWN


def test_full_shows_the_validation_block_verbatim():
    assert source_without_docstring(sample_step, full=True) == SHOWN_FULL


def test_a_function_without_docstring_is_shown_unchanged():
    assert source_without_docstring(no_docstring) == textwrap.dedent(inspect.getsource(no_docstring))
    assert docstring_markdown(no_docstring) == ""


def test_docstring_math_becomes_markdown_math():
    md = docstring_markdown(sample_step)
    assert r"$\theta_{n+1} = \theta_n - \gamma g_n$" in md, "inline :math: becomes $...$"
    assert "\n$$\n\\theta_{n+1} = \\theta_n - \\gamma \\nabla L(\\theta_n)\n$$\n" in md, ".. math:: becomes a display"
    assert ":math:" not in md and ".. math::" not in md and ":label:" not in md
    assert "`course_lib.dynamics.ode.gradient_descent`" in md and ":func:" not in md
    assert "`ch1-gd`" in md and "``" not in md, "reST double backticks become Markdown code"
    assert md.endswith("Returns the new point.")


def test_show_source_displays_one_markdown_object(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    display.show_source(sample_step)
    assert len(shown) == 1
    text = shown[0].data
    assert text.startswith("One step of gradient descent") and "```python\ndef sample_step(" in text
    assert "(argument checks omitted)" in text and text.rstrip().endswith("```")


def test_course_lib_functions_the_chapters_show_have_their_validation_marked():
    from course_lib.dynamics import sde

    shown = source_without_docstring(sde.euler_maruyama)
    assert shown.count("\n") < 40, "euler_maruyama's shown code must fit a screen (validation folded)"


@pytest.mark.parametrize("unterminated", ["    # --- validation\n    x = 1\n"])
def test_an_unterminated_validation_marker_leaves_the_code_visible(unterminated):
    assert display._VALIDATION.sub("", unterminated) == unterminated


def _two_rules() -> None:
    r"""Two rules.

    .. math::
       a &= b && \text{(one)} \\
       c &= d && \text{(two)}
    """


def _one_rule() -> None:
    r"""One rule.

    .. math::
       a = b
    """


def test_aligned_math_blocks_are_wrapped_in_an_aligned_environment() -> None:
    text = docstring_markdown(_two_rules)
    assert "$$\n\\begin{aligned}\na &= b" in text and "\\end{aligned}\n$$" in text


def test_single_line_math_is_left_alone() -> None:
    text = docstring_markdown(_one_rule)
    assert "$$\na = b\n$$" in text and "aligned" not in text


def test_equation_labels_beside_displayed_lines_are_dropped_to_fit_the_column() -> None:
    text = docstring_markdown(_two_rules)
    assert "(one)" in text  # not a label: kept
    from course_lib.optim import Adam

    adam = docstring_markdown(Adam)
    assert "m_t &= \\beta_1 m_{t-1}" in adam and "\\text{(opt-adam-first-moment)}" not in adam
    assert "opt-adam-first-moment" in adam  # still named in the docstring's text
