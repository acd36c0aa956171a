"""course_lib.models: the shared models have the shapes the chapters state."""

import pytest
import torch

from course_lib.models import logistic_regression, mlp


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
