"""Shared matplotlib helpers, so that every figure of the course looks the same.

* :func:`set_style` -- the course's rcParams (call once, in a page's imports cell).
* :func:`contour` -- level sets of a 2-D landscape (log-spaced levels by default, equal aspect).
* :func:`trajectories` -- optimisation paths on top of a contour plot, with arrows for the first
  steps and markers at the start and the end.
* :func:`animation_html` / :func:`animate_over` -- an explorable figure: frames over a parameter
  (e.g. the learning rate), rendered with ``FuncAnimation.to_jshtml()`` for the HTML book. The figure
  is closed, so the notebook shows only the animation, not a duplicate static image.
* :func:`loglog_slope` -- the least-squares slope of a log-log plot (an empirical order or exponent).
* :func:`histogram_and_density`, :func:`covariance_ellipse`, :func:`category_map`, :func:`grid_points`,
  :func:`log_ticks` -- the recurring plotting chores of the pages (samples against a density, a
  Gaussian's 2-sigma ellipse, a map of outcomes over a grid of starts, plain tick labels on log axes),
  so that a page's code shows the science.

matplotlib only; nothing here depends on a display (the tests use the Agg backend).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation

__all__ = ["COLUMN_WIDTH", "animate_over", "animation_html", "category_map", "contour",
           "covariance_ellipse", "figsize", "grid_points", "histogram_and_density", "log_ticks",
           "loglog_slope", "offline_player", "set_style", "trajectories"]

#: The width of the book's text column in inches: a figure this wide is shown at 1:1 in the HTML book
#: (wider figures are scaled down and their text becomes unreadable). Use :func:`figsize`.
COLUMN_WIDTH = 6.4

#: The course's colour cycle (matplotlib's tab10, colour-blind tolerable and print-safe).
COLORS = plt.get_cmap("tab10").colors

_STYLE = {
    "figure.figsize": (6.0, 3.8),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.framealpha": 0.9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "animation.html": "jshtml",
}


#: The smallest text a figure of the course may have, in pt (9 pt at the column width; see :func:`set_style`).
MIN_FONT_PT = 9.0
_ORIGINAL_SET_SIZE = mpl.font_manager.FontProperties.set_size


def _set_size_at_least_min(self, size) -> None:
    """``FontProperties.set_size``, but never below :data:`MIN_FONT_PT` (installed by :func:`set_style`)."""
    _ORIGINAL_SET_SIZE(self, size)
    self._size = max(self._size, MIN_FONT_PT)


def set_style() -> None:
    """Apply the course's matplotlib style (light grid, no top/right spines, readable sizes).

    No text is smaller than :data:`MIN_FONT_PT` (9 pt): after ``set_style()`` a smaller size, given
    anywhere (``legend(fontsize=7)``, ``text(..., fontsize="x-small")``), is drawn at 9 pt, so that every
    figure stays legible at the column width (and on a phone, where _static/phone.css keeps figures
    at their natural size). In a notebook it also asks for PNGs at twice the resolution ("retina"), so
    figures stay sharp on high-DPI screens while keeping their size on the page.
    """
    mpl.rcParams.update(_STYLE)
    mpl.font_manager.FontProperties.set_size = _set_size_at_least_min
    try:  # only inside IPython; a plain script has no inline backend
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        if get_ipython() is not None:
            set_matplotlib_formats("retina")
    except ImportError:  # pragma: no cover - IPython is always there in the book
        pass


def figsize(ncols: int = 1, nrows: int = 1, aspect: float = 0.62, width: float = COLUMN_WIDTH) -> tuple[float, float]:
    """A figure size for ``nrows`` x ``ncols`` panels that fits the book's column.

    The width is the column's (``width`` <= :data:`COLUMN_WIDTH`); each panel's height is ``aspect`` times
    its width. Pass it to ``plt.subplots(nrows, ncols, figsize=plotting.figsize(ncols, nrows))``.
    """
    if ncols < 1 or nrows < 1:
        raise ValueError(f"ncols and nrows must be >= 1, got {ncols} and {nrows}")
    if not 0 < width <= COLUMN_WIDTH:
        raise ValueError(f"width must be in (0, {COLUMN_WIDTH}] inches, got {width}")
    if not aspect > 0:
        raise ValueError(f"aspect must be positive, got {aspect}")
    return (width, nrows * aspect * width / ncols)


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=float)


def contour(
    landscape,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    ax: plt.Axes | None = None,
    levels: int | Sequence[float] = 20,
    log: bool = True,
    n_grid: int = 200,
    filled: bool = True,
    cmap: str = "Blues_r",
) -> plt.Axes:
    r"""Draw the level sets of a 2-D ``landscape`` (anything with ``loss(theta)`` for ``theta`` of shape ``(..., 2)``).

    Args:
        landscape: a 2-D landscape of :mod:`course_lib.landscapes` (or any object with ``loss``).
        xlim, ylim: the window in :math:`\\theta_1` and :math:`\\theta_2`.
        ax: the axes to draw on; a new figure when None.
        levels: the number of levels, or the levels themselves.
        log: space the levels geometrically above the window's minimum, which resolves both the
            floor of a ravine and its steep walls (linear levels crowd onto the walls).
        n_grid: grid points per axis.
        filled: shade between the levels as well as drawing them.
        cmap: the colormap of the shading (low loss dark by default).

    Returns:
        The axes, with equal aspect, the window set and the axes labelled :math:`\\theta_1`, :math:`\\theta_2`.
    """
    if ax is None:
        _, ax = plt.subplots()
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), n_grid, dtype=torch.float64)
    ys = torch.linspace(float(ylim[0]), float(ylim[1]), n_grid, dtype=torch.float64)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    with torch.no_grad():
        Z = _to_numpy(landscape.loss(torch.stack((X, Y), dim=-1)))
    X, Y = _to_numpy(X), _to_numpy(Y)
    if isinstance(levels, int):
        lo, hi = float(np.nanmin(Z)), float(np.nanmax(Z))
        if log and hi > lo:
            span = hi - lo
            levels = lo + np.geomspace(span * 1e-3, span, levels)
        else:
            levels = np.linspace(lo, hi, levels + 2)[1:-1]
    levels = np.asarray(levels, dtype=float)
    if filled:
        ax.contourf(X, Y, Z, levels=np.concatenate(([np.nanmin(Z)], levels)), cmap=cmap, alpha=0.55, extend="max")
    ax.contour(X, Y, Z, levels=levels, colors="0.35", linewidths=0.5, alpha=0.8)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    ax.grid(False)
    return ax


def trajectories(
    ax: plt.Axes,
    paths: Iterable,
    labels: Sequence[str] | None = None,
    colors: Sequence | None = None,
    n_arrows: int = 6,
    markersize: float = 3.0,
    legend: bool = True,
) -> plt.Axes:
    """Draw optimisation paths on ``ax`` without changing its window.

    Args:
        ax: the axes (typically from :func:`contour`).
        paths: iterables of points, each of shape ``(n + 1, 2)`` (tensor or array), e.g. the output of
            :func:`course_lib.dynamics.ode.gradient_descent` for one start.
        labels: one legend label per path (optional).
        colors: one colour per path (default: the course's cycle).
        n_arrows: how many of the first steps get an arrow head showing the direction of travel
            (later steps get only a dot, so long paths stay readable).
        markersize: the size of the dots at the iterates.
        legend: add a legend when labels are given.

    Non-finite points (a diverging run) are dropped; the axes keep their limits, so a divergent path
    simply leaves the window. A hollow circle marks each start and a cross each end.
    """
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    paths = [_to_numpy(p) for p in paths]
    if labels is not None and len(labels) != len(paths):
        raise ValueError(f"got {len(labels)} labels for {len(paths)} paths")
    for i, p in enumerate(paths):
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"path {i} must have shape (n + 1, 2), got {p.shape}")
        p = p[np.isfinite(p).all(axis=1)]
        # keep points not absurdly far outside the window (matplotlib struggles with 1e300)
        span = max(xlim[1] - xlim[0], ylim[1] - ylim[0])
        p = p[(np.abs(p) < 1e3 * span).all(axis=1)]
        color = (colors[i] if colors is not None else COLORS[i % len(COLORS)])
        label = labels[i] if labels is not None else None
        ax.plot(p[:, 0], p[:, 1], "-o", color=color, markersize=markersize, linewidth=1.2, label=label, zorder=3)
        k = min(n_arrows, len(p) - 1)
        if k > 0:
            d = p[1 : k + 1] - p[:k]
            ax.quiver(p[:k, 0], p[:k, 1], d[:, 0], d[:, 1], color=color, angles="xy", scale_units="xy", scale=1,
                      width=0.006, headwidth=4, headlength=5, zorder=4)
        if len(p):
            ax.plot(*p[0], "o", mfc="white", mec=color, markersize=7, mew=1.5, zorder=5)
            ax.plot(*p[-1], "X", color=color, markersize=7, mec="white", mew=0.8, zorder=5)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    if legend and labels is not None:
        ax.legend(loc="best")
    return ax


#: Text glyphs for the player's buttons (matplotlib's template uses Font Awesome icons from a CDN, which
#: an offline reader never gets: the buttons would be blank). The buttons keep their titles as tooltips.
PLAYER_GLYPHS = {
    "fa fa-minus": "\u2212",  # slower
    "fa fa-fast-backward": "\u21e4",  # first frame
    "fa fa-step-backward": "\u25c1",  # previous frame
    "fa fa-play fa-flip-horizontal": "\u25c0",  # play backwards
    "fa fa-pause": "\u275a\u275a",  # pause
    "fa fa-play": "\u25b6",  # play
    "fa fa-step-forward": "\u25b7",  # next frame
    "fa fa-fast-forward": "\u21e5",  # last frame
    "fa fa-plus": "+",  # faster
}

_ICON = re.compile(r'<i class="(fa [^"]+)"></i>')
_CDN_LINK = re.compile(r"<link[^>]*font-awesome[^>]*>\s*", re.IGNORECASE)


def offline_player(html: str) -> str:
    """Make ``to_jshtml()``'s player self-contained: no Font Awesome from a CDN, text glyphs on the buttons."""

    def glyph(match: re.Match) -> str:
        if match.group(1) not in PLAYER_GLYPHS:
            raise ValueError(f"unknown player icon {match.group(1)!r}: add it to PLAYER_GLYPHS")
        return f'<span aria-hidden="true">{PLAYER_GLYPHS[match.group(1)]}</span>'

    return _ICON.sub(glyph, _CDN_LINK.sub("", html))


def animation_html(fig: plt.Figure, update: Callable[[object], object], frames: Sequence, interval: int = 500) -> str:
    """Render ``FuncAnimation(fig, update, frames)`` as a self-contained HTML player and close ``fig``.

    ``update(frame)`` redraws the figure for one element of ``frames``. Returns the string of
    ``to_jshtml()`` made offline (:func:`offline_player`: the page fetches nothing from the network);
    show it with ``IPython.display.HTML``. The figure is closed so that the notebook does not also
    display it as a static image.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("frames must not be empty")
    try:
        anim = FuncAnimation(fig, update, frames=frames, interval=interval, blit=False, repeat=False)
        return offline_player(anim.to_jshtml(default_mode="once"))
    finally:
        plt.close(fig)


def animate_over(
    values: Sequence[float],
    draw: Callable[[plt.Axes, float], object],
    figsize: tuple[float, float] = (5.5, 4.0),
    interval: int = 500,
    dpi: int = 80,
) -> str:
    """An explorable figure with one frame per parameter value (e.g. per learning rate).

    For each ``value`` in ``values`` the axes are cleared and ``draw(ax, value)`` draws the frame
    (including its title). Returns the HTML of the animation (see :func:`animation_html`). Keep
    ``values`` short (about 25 frames): every frame is embedded in the page as an image.
    """
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi, layout="constrained")  # a long title stays inside

    def update(value):
        ax.clear()
        draw(ax, value)
        return ()

    return animation_html(fig, update, values, interval=interval)


def loglog_slope(x, y) -> float:
    r"""The least-squares slope :math:`p` of :math:`\log y = p \log x + c`, i.e. the exponent of :math:`y \propto x^p`.

    Used to measure an empirical order of convergence (e.g. Euler's global error against the step,
    :math:`p \approx 1`) or a scaling law. ``x`` and ``y`` must be positive, finite and of equal length >= 2.
    """
    x, y = _to_numpy(x).ravel(), _to_numpy(y).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must have the same length >= 2, got {x.size} and {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all() and (x > 0).all() and (y > 0).all()):
        raise ValueError("x and y must be positive and finite for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def histogram_and_density(
    ax: plt.Axes,
    edges,
    probabilities,
    x,
    density,
    labels: tuple[str, str] = ("samples", "density"),
    color: str = "C0",
    curve_color: str = "C3",
):
    """Bars of a histogram (bin ``probabilities`` over ``edges``, shown as a density) and a curve.

    Returns ``(bars, line)`` so that an animation can update the heights and the curve in place.
    """
    edges, probabilities = _to_numpy(edges), _to_numpy(probabilities)
    if probabilities.shape != (len(edges) - 1,):
        raise ValueError(f"need one probability per bin: {len(edges) - 1}, got {probabilities.shape}")
    widths = np.diff(edges)
    bars = ax.bar(0.5 * (edges[1:] + edges[:-1]), probabilities / widths, width=widths, color=color,
                  alpha=0.5, label=labels[0])
    (line,) = ax.plot(_to_numpy(x), _to_numpy(density), color=curve_color, label=labels[1])
    return bars, line


def covariance_ellipse(ax: plt.Axes, cov, n_std: float = 2.0, center=(0.0, 0.0), color: str = "k",
                       **kwargs) -> None:
    """Draw the ``n_std``-standard-deviation ellipse of a 2-D Gaussian with covariance ``cov``."""
    cov = _to_numpy(cov)
    if cov.shape != (2, 2):
        raise ValueError(f"cov must be 2 x 2, got {cov.shape}")
    angle = np.linspace(0, 2 * np.pi, 200)
    circle = np.stack([np.cos(angle), np.sin(angle)], -1)
    ellipse = n_std * circle @ np.linalg.cholesky(cov).T + np.asarray(center, dtype=float)
    ax.plot(ellipse[:, 0], ellipse[:, 1], color=color, **kwargs)


def grid_points(xlim: tuple[float, float], ylim: tuple[float, float], nx: int, ny: int) -> torch.Tensor:
    """The ``nx * ny`` points of a regular grid over the window, shape ``(nx * ny, 2)`` (x fastest)."""
    g1, g2 = torch.meshgrid(torch.linspace(*map(float, xlim), nx, dtype=torch.float64),
                            torch.linspace(*map(float, ylim), ny, dtype=torch.float64), indexing="xy")
    return torch.stack([g1.reshape(-1), g2.reshape(-1)], -1)


def category_map(ax: plt.Axes, xs, ys, codes, colors: Sequence, names: Sequence[str] | None = None):
    """Colour each cell of a grid by an integer code ``0 .. len(colors) - 1`` (e.g. where a start ends).

    ``codes`` has shape ``(len(ys), len(xs))``. Returns legend handles (one patch per named code).
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    n = len(colors)
    ax.pcolormesh(_to_numpy(xs), _to_numpy(ys), _to_numpy(codes), cmap=ListedColormap(colors),
                  vmin=-0.5, vmax=n - 0.5, shading="nearest")
    return [Patch(color=c, label=t) for c, t in zip(colors, names or [])]


def log_ticks(axis, values: Sequence[float]) -> None:
    """Put plain-number ticks at ``values`` on a log-scaled axis (``ax.xaxis`` or ``ax.yaxis``)."""
    axis.set_ticks(list(values), labels=[f"{v:g}" for v in values])
    axis.set_minor_formatter(mpl.ticker.NullFormatter())
