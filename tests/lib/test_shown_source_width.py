"""The library code the book shows (``show_source``) fits the chapters' 88 columns: no code block scrolls."""

import pytest

import course_lib.optim as co
from course_lib.display import source_without_docstring
from course_lib.dynamics import momentum, ode, quadratic_rates, sde
from course_lib.measure.traffic import count_traffic
from course_lib.optim.muon import newton_schulz
from course_lib.schedules import WarmupStableDecayLR, wsd_lr

WIDTH = 88  # chapters/ruff.toml
OPTIMIZERS = [getattr(co, name) for name in co.__all__ if isinstance(getattr(co, name), type)]
SHOWN = [*OPTIMIZERS, co.compiled, co.SGD._direction, newton_schulz, count_traffic, momentum.heavy_ball,
         momentum.momentum_path, momentum.leapfrog_coefficients, momentum.stationary_covariance,
         momentum.sutskever_schedule, ode.euler, ode.gradient_descent, ode.quadratic_flow, sde.euler_maruyama,
         sde.gibbs_density, sde.sgd_quadratic_stationary_variance, quadratic_rates.iteration_matrix,
         quadratic_rates.spectral_radius, wsd_lr, WarmupStableDecayLR]


@pytest.mark.parametrize("obj", SHOWN, ids=lambda o: o.__qualname__)
def test_shown_source_fits_the_column(obj):
    long = [line for line in source_without_docstring(obj).splitlines() if len(line) > WIDTH]
    assert long == [], f"{len(long)} lines over {WIDTH} columns, e.g. {long[0]!r}"
