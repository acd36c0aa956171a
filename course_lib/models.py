"""Small models the chapters and benchmarks share."""

from __future__ import annotations

from itertools import pairwise

from torch import nn


def mlp(sizes: tuple[int, ...] = (784, 200, 10), activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """A fully connected network with ``activation`` between layers, e.g. source 002's 784-200-10 MLP.

    The default sizes are the MNIST network used throughout the course: 784 input pixels, one hidden
    layer of 200 units, 10 logits.
    """
    if len(sizes) < 2 or any((not isinstance(s, int)) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be at least two positive ints, got {sizes!r}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        if i > 0:
            layers.append(activation())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(nn.Flatten(), *layers)


def logistic_regression(n_features: int = 784, n_classes: int = 10) -> nn.Sequential:
    """Multinomial logistic regression: one linear layer on the flattened input (convex in its weights)."""
    return mlp((n_features, n_classes))
