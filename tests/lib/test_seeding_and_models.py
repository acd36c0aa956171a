"""seed_everything makes runs repeatable; the shared models have the shapes the chapters state."""

import numpy as np
import pytest
import torch

from course_lib import seed_everything
from course_lib.models import logistic_regression, mlp


def test_seed_everything_repeats_torch_numpy_and_generator_draws():
    g1 = seed_everything(123)
    a = (torch.rand(3), np.random.rand(3), torch.rand(3, generator=g1))
    g2 = seed_everything(123)
    b = (torch.rand(3), np.random.rand(3), torch.rand(3, generator=g2))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and torch.equal(a[2], b[2])


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_non_integer_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)


def test_source_002_mlp_has_784_200_10_shape_and_159010_parameters():
    net = mlp()
    assert net(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    assert sum(p.numel() for p in net.parameters()) == 784 * 200 + 200 + 200 * 10 + 10 == 159010


def test_logistic_regression_is_one_linear_layer():
    net = logistic_regression()
    assert [type(m).__name__ for m in net] == ["Flatten", "Linear"]


@pytest.mark.parametrize("sizes", [(784,), (784, 0, 10), (784, 2.5)])
def test_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="sizes"):
        mlp(sizes)
