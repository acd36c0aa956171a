"""Chapters 5-6's rewritten checks reject the wrong answers the referee named (issues 18 and 21).

Each test recomputes the page's quantity independently (numpy, not course_lib's optimizers), shows
that the page's claim passes it, and that the same claim fails on the named wrong answer.
"""

import math

import numpy as np
import pytest

from course_lib import claims
from course_lib.claims import ClaimError, claim


@pytest.fixture(autouse=True)
def _fresh_ledger():
    claims.reset()
    yield
    claims.reset()


def _cosine_lag(n_steps: int = 300, mu: float = 0.9) -> np.ndarray:
    """Inside/outside step ratio under cosine annealing (ch5-lr-lag), by the unrolled sums."""
    t = np.arange(n_steps)
    lr = 1e-4 + (0.1 - 1e-4) * (1 + np.cos(np.pi * t / n_steps)) / 2
    weighted = plain = 0.0
    out = []
    for g in lr:
        weighted, plain = mu * weighted + g, mu * plain + 1.0
        out.append(weighted / (g * plain))
    return np.array(out)


def test_chapter5_mid_cosine_lag_is_nine_pi_over_t_and_rejects_the_off_by_one():
    lag = _cosine_lag()[150] - 1
    claim("mid-cosine lag", lag, 9 * math.pi / 300, rtol=0.05, rules_out={"10π/T": 10 * math.pi / 300})
    off_by_one = lag / 0.9  # what the measurement would be with the coefficient 1/(1-μ)
    with pytest.raises(ClaimError):
        claim("mid-cosine lag, wrong", off_by_one, 9 * math.pi / 300, rtol=0.05,
              rules_out={"10π/T": 10 * math.pi / 300})


def test_chapter5_complex_roots_shrink_by_sqrt_mu_not_by_the_small_decay_formula():
    mu, gamma_omega = 0.9, 1e-2  # past (1 - √μ)² = 2.6e-3: complex roots
    assert gamma_omega > (1 - math.sqrt(mu)) ** 2
    theta, previous, values = 1.0, 1.0, []
    for _ in range(600):  # heavy ball on (ω/2)θ², f = 0, torch's buffer form
        theta, previous = theta + mu * (theta - previous) - gamma_omega * theta, theta
        values.append(abs(theta))
    values = np.array(values)
    rate = (values[400:].max() / values[200:400].max()) ** (1 / 200)
    wrong = {"1 - γω/(1-μ)": 1 - gamma_omega / (1 - mu), "1 - γω": 1 - gamma_omega}
    claim("envelope shrink", rate, math.sqrt(mu), tol=0.005, rules_out=wrong)
    with pytest.raises(ClaimError):
        claim("envelope shrink, small-decay formula", rate, 1 - gamma_omega / (1 - mu), tol=0.005,
              rules_out={"√μ": math.sqrt(mu)})


def test_chapter6_efficient_epsilon_first_step_rejects_torchs_placement():
    g, c2 = 1e-6, 1e-3
    m, v = 0.1 * g, c2 * g * g
    efficient = (math.sqrt(c2) / 0.1) * m / (math.sqrt(v) + 1e-8)  # Kingma & Ba, run by hand
    torch_placement = (m / 0.1) / (math.sqrt(v / c2) + 1e-8)
    claim("efficient first step", efficient, 0.7597, tol=1e-4, rules_out={"torch's": 1 / 1.01})
    with pytest.raises(ClaimError):
        claim("efficient first step, torch's value", torch_placement, 0.7597, tol=1e-4,
              rules_out={"torch's": 1 / 1.01})


def test_chapter6_adagrad_ratio_bound_rejects_the_old_five_times():
    with pytest.raises(ClaimError, match="rare-weight ratio"):  # the 5x itself would pass
        claim("rare-weight ratio", 6.7e4, at_least=4.0, rules_out={"the old bound's 5x": 5.0})
    claim("rare-weight ratio", 6.7e4, at_least=100.0, rules_out={"the old bound's 5x": 5.0})
