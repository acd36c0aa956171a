"""get_device: one place chooses the device; an environment variable forces it; bad names fail clearly."""

import pytest
import torch

from course_lib.device import DEVICE_ENV_VAR, get_device


def test_default_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.delenv(DEVICE_ENV_VAR, raising=False)
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_environment_variable_forces_cpu(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "cpu")
    assert get_device() == torch.device("cpu")


def test_empty_environment_variable_means_automatic(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "  ")
    assert get_device().type in {"cpu", "cuda"}


def test_argument_takes_precedence_over_environment(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "not-a-device")
    assert get_device("cpu") == torch.device("cpu")


def test_unknown_device_name_raises_value_error_naming_it(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "gpu-please")
    with pytest.raises(ValueError, match="gpu-please"):
        get_device()


def test_unsupported_device_type_raises_value_error():
    with pytest.raises(ValueError, match="meta"):
        get_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a usable GPU")
def test_forcing_cuda_without_gpu_raises_runtime_error_that_says_what_to_do(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, "cuda")
    with pytest.raises(RuntimeError, match=f"{DEVICE_ENV_VAR}"):
        get_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_forcing_a_missing_gpu_index_raises(monkeypatch):
    monkeypatch.setenv(DEVICE_ENV_VAR, f"cuda:{torch.cuda.device_count()}")
    with pytest.raises(RuntimeError, match="visible"):
        get_device()
