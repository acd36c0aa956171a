"""Tests for course_lib.dynamics.gradient_noise: minibatch-gradient noise against batch size (chapter 2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.dynamics.gradient_noise import (
    centred_gram,
    logistic_regression_per_example_gradients,
    noise_trace,
    per_example_gradients,
    sample_minibatch_gradients,
    sample_noise_sq_norms,
)
from course_lib.models import logistic_regression
from course_lib.plotting import loglog_slope


def _data(n: int = 64, d: int = 5, k: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randint(k, (n,), generator=gen)


def test_vmap_per_example_gradients_match_the_logistic_regression_closed_form() -> None:
    X, y = _data()
    torch.manual_seed(0)
    model = logistic_regression(5, 3).double()
    G = per_example_gradients(model, F.cross_entropy, X, y)
    closed = logistic_regression_per_example_gradients(model[1].weight.detach(), model[1].bias.detach(), X, y)
    torch.testing.assert_close(G, closed, rtol=1e-10, atol=1e-12)
    # and their mean is the full-batch gradient
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    full = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(G.mean(0), full, rtol=1e-10, atol=1e-12)


def test_noise_trace_is_exact_for_a_synthetic_problem_with_known_answer() -> None:
    # per-example "gradients" ±1 in one coordinate: Σ = 1, so tr Cov(g_B) = 1/B (with replacement)
    G = torch.tensor([[1.0], [-1.0]] * 50, dtype=torch.float64)
    for B in (1, 4, 10):
        assert noise_trace(G, B) == pytest.approx(1 / B)
        assert noise_trace(G, B, replacement=False) == pytest.approx((1 / B) * (100 - B) / 99)
    assert noise_trace(G, 100, replacement=False) == pytest.approx(0.0)


@pytest.mark.parametrize("replacement", [True, False])
def test_sampled_noise_matches_the_formula_and_scales_as_one_over_b(replacement: bool) -> None:
    gen = torch.Generator().manual_seed(1)
    G = torch.randn(200, 6, generator=gen, dtype=torch.float64) * torch.arange(1, 7)
    K = centred_gram(G)
    assert float(K.trace()) / 200 == pytest.approx(noise_trace(G, 1))
    batch_sizes = [1, 2, 4, 8, 16, 32, 64]
    measured = [float(sample_noise_sq_norms(K, B, 4000, gen, replacement).mean()) for B in batch_sizes]
    predicted = [noise_trace(G, B, replacement) for B in batch_sizes]
    for m, p in zip(measured, predicted):
        assert m == pytest.approx(p, rel=0.08)
    corrected = [m / (1 if replacement else (200 - B) / 199) for m, B in zip(measured, batch_sizes)]
    assert loglog_slope(batch_sizes, corrected) == pytest.approx(-1.0, abs=0.03)


def test_gram_shortcut_equals_the_explicit_minibatch_gradients() -> None:
    G = torch.randn(50, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for B, replacement in ((3, True), (30, True), (30, False)):
        g = sample_minibatch_gradients(G, B, 8, torch.Generator().manual_seed(5), replacement)
        q = sample_noise_sq_norms(centred_gram(G), B, 8, torch.Generator().manual_seed(5), replacement)
        torch.testing.assert_close(((g - G.mean(0)) ** 2).sum(1), q, rtol=1e-10, atol=1e-12)


def test_minibatch_gradient_is_unbiased() -> None:
    G = torch.randn(30, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    g = sample_minibatch_gradients(G, 5, 20000, torch.Generator().manual_seed(4))
    assert torch.allclose(g.mean(0), G.mean(0), atol=4 * (noise_trace(G, 5) / 20000) ** 0.5)


def test_bad_batch_sizes_raise() -> None:
    G = torch.zeros(10, 2)
    with pytest.raises(ValueError):
        noise_trace(G, 0)
    with pytest.raises(ValueError):
        noise_trace(G, 11, replacement=False)
    with pytest.raises(ValueError):
        sample_noise_sq_norms(torch.zeros(10, 3), 2, 5)
    with pytest.raises(ValueError):
        sample_minibatch_gradients(G, 2, 0)
    with pytest.raises(ValueError):
        per_example_gradients(logistic_regression(2, 2), F.cross_entropy, torch.zeros(3, 2), torch.zeros(4).long())
