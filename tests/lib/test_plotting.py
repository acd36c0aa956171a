"""course_lib.plotting: the helpers draw, return what they promise, and leak no figures (Agg backend, set in conftest)."""

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from course_lib import plotting
from course_lib.dynamics.ode import gradient_descent
from course_lib.landscapes import Quadratic, TwoBasins


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")
    yield
    plt.close("all")


def test_contour_draws_levels_with_equal_aspect_and_labels():
    ax = plotting.contour(Quadratic.ravine(), (-3, 3), (-1, 1), levels=12)
    assert ax.get_aspect() == 1.0
    assert ax.get_xlim() == (-3, 3) and ax.get_ylim() == (-1, 1)
    assert "theta_1" in ax.get_xlabel() and "theta_2" in ax.get_ylabel()
    assert len(ax.collections) >= 1


def test_contour_linear_levels_and_given_levels_work():
    _, ax = plt.subplots()
    plotting.contour(TwoBasins(), (-2, 2), (-2, 2), ax=ax, log=False, filled=False, n_grid=50)
    (lines,) = ax.collections  # unfilled: the lines only
    steps = np.diff(lines.levels)
    assert len(lines.levels) > 5 and np.allclose(steps, steps[0])  # evenly spaced, not log-spaced
    _, ax = plt.subplots()
    plotting.contour(TwoBasins(), (-2, 2), (-2, 2), ax=ax, levels=[0.1, 0.25, 1.0], n_grid=50)
    assert list(ax.collections[-1].levels) == [0.1, 0.25, 1.0]  # the lines at exactly the given levels


def test_trajectories_keep_the_window_and_survive_divergence():
    q = Quadratic.ravine()
    ax = plotting.contour(q, (-3, 3), (-2, 2), n_grid=40)
    ok = gradient_descent(q.grad, torch.tensor([-2.5, 1.0]), 0.5, 20)
    diverging = gradient_descent(q.grad, torch.tensor([-2.5, 1.0]), 1.2, 400)  # reaches inf
    assert not torch.isfinite(diverging[-1]).all()
    plotting.trajectories(ax, [ok, diverging], labels=["stable", "diverging"])
    assert ax.get_xlim() == (-3, 3) and ax.get_ylim() == (-2, 2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["stable", "diverging"]


def test_trajectories_reject_bad_shapes_and_label_counts():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="shape"):
        plotting.trajectories(ax, [np.zeros((5, 3))])
    with pytest.raises(ValueError, match="labels"):
        plotting.trajectories(ax, [np.zeros((5, 2))], labels=["a", "b"])


def test_animate_over_returns_an_html_animation_and_closes_its_figure():
    before = plt.get_fignums()

    def draw(ax, lr):
        ax.plot([0, 1], [0, lr])
        ax.set_title(f"lr = {lr}")

    html = plotting.animate_over([0.1, 0.2, 0.3], draw)
    assert isinstance(html, str) and "<script" in html and "Animation" in html
    assert html.count("data:image/png;base64") == 3  # one embedded image per frame
    assert plt.get_fignums() == before


def test_animation_html_closes_the_figure_even_on_error():
    fig = plt.figure()

    def update(frame):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        plotting.animation_html(fig, update, [1, 2])
    assert not plt.fignum_exists(fig.number)
    with pytest.raises(ValueError, match="frames"):
        plotting.animation_html(plt.figure(), lambda f: None, [])


def test_loglog_slope_recovers_the_exponent():
    x = np.geomspace(1e-3, 1e-1, 7)
    assert plotting.loglog_slope(x, 3.0 * x**1.5) == pytest.approx(1.5)
    assert plotting.loglog_slope(torch.tensor(x), torch.tensor(x**-1.0)) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="positive"):
        plotting.loglog_slope([1.0, 2.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="same length"):
        plotting.loglog_slope([1.0, 2.0], [1.0])


def test_set_style_sets_rcparams():
    plotting.set_style()
    assert matplotlib.rcParams["axes.spines.top"] is False


def test_the_animation_player_fetches_nothing_from_the_network_and_labels_every_button():
    html = plotting.animate_over([0.1, 0.2], lambda ax, v: ax.plot([0, v]))
    assert "font-awesome" not in html and "<link" not in html, "the player must not load an icon font from a CDN"
    assert not re.search(r"""(src|href)=["']https?://""", html), "no resource from the network"
    assert 'class="fa' not in html, "every Font Awesome icon is replaced by a text glyph"
    buttons = re.findall(r"<button[^>]*>\s*(.*?)</button>", html, flags=re.DOTALL)
    assert len(buttons) == 9 and all('aria-hidden="true">' in b and "</span>" in b for b in buttons)
    assert set(plotting.PLAYER_GLYPHS.values()) == {re.sub(r"<[^>]+>", "", b).strip() for b in buttons}


def test_offline_player_refuses_an_icon_it_does_not_know():
    with pytest.raises(ValueError, match="fa fa-rocket"):
        plotting.offline_player('<button><i class="fa fa-rocket"></i></button>')


@pytest.mark.parametrize("ncols, nrows", [(1, 1), (2, 1), (3, 2)])
def test_figsize_is_the_column_width_with_panels_of_the_given_aspect(ncols, nrows):
    width, height = plotting.figsize(ncols, nrows, aspect=0.5)
    assert width == plotting.COLUMN_WIDTH
    assert height == pytest.approx(nrows * 0.5 * width / ncols)  # a panel is (width/ncols) x aspect


def test_figsize_never_exceeds_the_column_and_rejects_bad_values():
    assert plotting.figsize(width=5.0)[0] == 5.0
    for kwargs, word in [({"ncols": 0}, "ncols"), ({"nrows": 0}, "nrows"), ({"width": 7.0}, "width"),
                         ({"width": 0.0}, "width"), ({"aspect": 0.0}, "aspect")]:
        with pytest.raises(ValueError, match=word):
            plotting.figsize(**kwargs)


def test_covariance_ellipse_reaches_two_standard_deviations_along_each_axis():
    fig, ax = plt.subplots()
    plotting.covariance_ellipse(ax, torch.diag(torch.tensor([4.0, 0.25], dtype=torch.float64)))
    x, y = ax.lines[-1].get_data()
    assert abs(max(x) - 4.0) < 1e-3 and abs(max(y) - 1.0) < 1e-3  # 2 * sqrt(4), 2 * sqrt(0.25)
    plt.close(fig)


def test_histogram_and_density_shows_probabilities_as_a_density():
    fig, ax = plt.subplots()
    edges = torch.tensor([0.0, 0.5, 2.0])
    bars, _ = plotting.histogram_and_density(ax, edges, torch.tensor([0.25, 0.75]),
                                                torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]))
    assert [b.get_height() for b in bars] == [0.5, 0.5]  # probability / bin width
    with pytest.raises(ValueError, match="one probability per bin"):
        plotting.histogram_and_density(ax, edges, torch.tensor([1.0]), [0.0], [1.0])
    plt.close(fig)


def test_grid_points_runs_x_fastest():
    pts = plotting.grid_points((0, 1), (0, 2), 2, 3)
    assert pts.shape == (6, 2)
    assert pts[:3].tolist() == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
def test_no_text_is_drawn_below_nine_points_after_set_style():
    plotting.set_style()
    fig, ax = plt.subplots(figsize=plotting.figsize())
    ax.plot([0, 1], [0, 1], label="a line")
    legend = ax.legend(fontsize=6)
    note = ax.text(0.5, 0.5, "note", fontsize="xx-small")
    title = ax.set_title("title", fontsize=12)
    fig.canvas.draw()
    assert legend.get_texts()[0].get_fontsize() == plotting.MIN_FONT_PT
    assert note.get_fontsize() == plotting.MIN_FONT_PT
    assert title.get_fontsize() == 12, "larger sizes are kept"
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]
    assert min(sizes) >= plotting.MIN_FONT_PT
    plt.close(fig)
