"""Shared fixtures."""

from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository's top folder."""
    return REPO_ROOT


@pytest.fixture
def float64_default():
    """Tensors made in the test default to float64 (comparisons against autograd or closed forms to ~1e-12)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors: one intra-op thread is far faster than two contending ones on a busy 2-core CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
