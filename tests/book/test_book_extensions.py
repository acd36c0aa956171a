"""The book's Sphinx extensions (_ext/), on small inputs: folding figure code, equation numbers, Colab links."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))
import downloads
import equation_numbers as eqn
import fold_plots


def _cell(tags=(), caption=None, kind="code"):
    metadata = {"tags": list(tags)}
    if caption:
        metadata["mystnb"] = {"figure": {"caption": caption, "name": "fig-x"}}
    return {"cell_type": kind, "metadata": metadata, "source": "plot()"}


def test_the_code_of_a_captioned_figure_is_folded_unless_tagged_show_input():
    nb = {"cells": [_cell(caption="A"), _cell(["show-input"], caption="B"), _cell(), _cell(["remove-input"], "C"),
                    _cell(caption="D", kind="markdown")]}
    assert fold_plots.fold_figure_cells(nb) == 1
    assert [c["metadata"]["tags"] for c in nb["cells"]] == [["hide-input"], ["show-input"], [], ["remove-input"], []]


def _link(label):
    return {"ch3-momentum": ("03_momentum.html#equation-ch3-momentum", "12")}.get(label)


def test_labels_in_text_code_and_captions_become_linked_numbers_but_not_in_tex_attributes_or_scripts():
    body = ('<p>see (ch3-momentum).</p><span class="c1"># (ch3-momentum)</span>'
            '<div class="math">\\[ x \\tag{(ch3-momentum)} \\]</div><img alt="(ch3-momentum)">'
            '<script>var a = "(ch3-momentum)";</script><p>(ch9-nothing)</p>')
    unknown = set()
    out = eqn.resolve_labels(body, _link, unknown)
    linked = '(<a class="reference internal eqref" href="03_momentum.html#equation-ch3-momentum">12</a>)'
    assert out.count(linked) == 2
    assert "\\tag{(ch3-momentum)}" in out and 'alt="(ch3-momentum)"' in out and '"(ch3-momentum)";' in out
    assert unknown == {"ch9-nothing"} and "(ch9-nothing)" in out


def test_a_figures_alt_text_is_its_caption_without_the_figure_number():
    body = ('<figure class="align-default" id="fig-x"><div class="cell_output"><img alt="../_images/a.png" '
            'src="../_images/a.png" /></div><figcaption><p><span class="caption-number">Fig. 3 </span>'
            '<span class="caption-text">Rate &amp; <em>error</em> (<a href="#e">12</a>)</span>'
            '<a class="headerlink" href="#fig-x">#</a></p></figcaption></figure>')
    out = eqn.alt_text_from_captions(body)
    assert 'alt="Rate &amp; error (12)"' in out


def test_colab_urls_of_chapters_point_at_the_colab_editions(tmp_path):
    (tmp_path / "colab").mkdir()
    (tmp_path / "colab" / "03_momentum.ipynb").write_text("{}")
    base = "https://colab.research.google.com/github/o/r/blob/main/"
    assert downloads.colab_edition_url(base + "chapters/03_momentum.ipynb", tmp_path) == base + "colab/03_momentum.ipynb"
    assert downloads.colab_edition_url(base + "chapters/04_x.ipynb", tmp_path) == base + "chapters/04_x.ipynb"
    student = base + "exercises/student/03_momentum.ipynb"
    assert downloads.colab_edition_url(student, tmp_path) == student


def test_an_optimizer_label_in_prose_becomes_its_tag():
    out = eqn.resolve_labels("<p>equation <code>opt-adam-amsgrad</code> and opt-x-y</p>", _link, set(),
                             {"opt-adam-amsgrad": "Adam.4"})
    assert out == "<p>equation <code>Adam.4</code> and opt-x-y</p>"
