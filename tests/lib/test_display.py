"""course_lib.display.show_source: the shown code is the real code minus docstring and validation; math renders."""

import inspect
import re
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


def test_optimizer_equation_labels_become_tags_shared_by_the_display_and_the_code() -> None:
    text = docstring_markdown(_two_rules)
    assert "(one)" in text  # not a label: kept
    from course_lib.optim import Adam

    adam = docstring_markdown(Adam)
    assert "m_t &= \\beta_1 m_{t-1}" in adam and "\\text{(opt-adam-first-moment)}" not in adam
    tags = display.optimizer_equation_tags("Adam")
    first = tags["opt-adam-first-moment"]
    assert first == "Adam.1"
    assert "\\begin{align*}" in adam and f"\\tag{{{first}}}" in adam, "a tagged display is a top-level align*"
    assert "Equation labels" not in adam, "the list of labels is dropped: the tags replace it"
    code = source_without_docstring(Adam.step) + "".join(
        source_without_docstring(getattr(Adam, name)) for name in ("_single_tensor",) if hasattr(Adam, name))
    assert "opt-" not in code


def test_no_optimizer_shows_a_raw_opt_label_in_its_docstring_or_code() -> None:
    from course_lib import optim

    for name, cls in vars(optim).items():
        if not inspect.isclass(cls) or not issubclass(cls, optim.SGD.__mro__[1]):
            continue
        shown = docstring_markdown(cls) + source_without_docstring(cls)
        assert "opt-" not in shown, f"{name} shows a raw opt- label"
        if "\\tag{" in shown:  # MathJax refuses \tag inside aligned: tagged lines need a top-level align*
            assert "\\begin{aligned}" not in shown and shown.count("\\begin{align*}") >= 1, name
        for tag in set(re.findall(r"\\tag\{([^}]*)\}", shown)):
            assert tag.startswith((name + ".", "Common.")), (name, tag)


def test_every_tag_the_shown_code_names_is_written_out_on_the_page(monkeypatch) -> None:
    import IPython.display

    import course_lib.optim as co

    for obj in (co.Adam, co.AdamW, co.SGD, co.Lion, co.RAdam, co.Muon, co.Muon.step, co.Adafactor.step,
                co.AdamWScheduleFree.step):
        shown = []
        monkeypatch.setattr(IPython.display, "display", lambda obj, shown=shown: shown.append(obj))
        display.show_source(obj)
        text = shown[0].data
        named = set(re.findall(r"\((\w+\.\d+)\)", text))
        for tag in named:
            assert f"\\tag{{{tag}}}" in text, f"{obj.__qualname__}: ({tag}) is never written out"
        # every tagged equation is a display line with content, never inline math (Markdown would
        # eat the backslash of "\,") and never empty (a label on an equation's continuation line)
        assert "$$;" not in text and not re.search(r"\(\w+\.\d+\) \$", text), obj.__qualname__
        for note in re.findall(r"\\begin\{gather\*\}(.*?)\\end\{gather\*\}", text, flags=re.DOTALL):
            for row in re.findall(r"^(.*)\\tag\{", note, flags=re.MULTILINE):
                assert row.strip(), f"{obj.__qualname__}: an empty tagged equation"


def test_no_shown_object_leaves_a_raw_equation_label_in_its_code_or_docstring() -> None:
    """Every ``opt-`` label in the code and docstring that a page shows becomes a tag (``newton-schulz.2``)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_shown_source_width import SHOWN

    for obj in SHOWN:
        for text in (display.source_without_docstring(obj), display.docstring_markdown(obj)):
            assert "opt-" not in text, f"{obj.__qualname__}: a raw label in {text[text.index('opt-') - 40:][:90]!r}"
