"""course_lib.seeding: the COURSE_SEED offset reaches every generator; bad values are refused clearly."""

import random

import numpy as np
import pytest
import torch

from course_lib.seeding import SEED_ENV_VAR, effective_seed, make_generator, seed_everything, seed_offset


def test_no_offset_by_default(monkeypatch):
    monkeypatch.delenv(SEED_ENV_VAR, raising=False)
    assert seed_offset() == 0 and effective_seed(7) == 7


@pytest.mark.parametrize("offset", [1, 3, 4])
def test_course_seed_is_added_to_every_seed(monkeypatch, offset):
    monkeypatch.setenv(SEED_ENV_VAR, str(offset))
    assert effective_seed(7) == 7 + offset
    a = make_generator(7)
    monkeypatch.setenv(SEED_ENV_VAR, "0")
    b = make_generator(7 + offset)
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))


def test_an_offset_changes_the_numbers_and_seed_everything_seeds_all_three_libraries(monkeypatch):
    draws = {}
    for offset in ("0", "1", "0"):
        monkeypatch.setenv(SEED_ENV_VAR, offset)
        g = seed_everything(5)
        draws.setdefault(offset, []).append((random.random(), float(np.random.rand()), float(torch.rand(1)),
                                             float(torch.rand(1, generator=g))))
    assert draws["0"][0] == draws["0"][1], "same offset, same numbers"
    assert all(x != y for x, y in zip(draws["0"][0], draws["1"][0], strict=True)), "another offset moves every draw"


def test_make_generator_is_on_the_requested_device(monkeypatch):
    monkeypatch.delenv(SEED_ENV_VAR, raising=False)
    assert make_generator(0).device == torch.device("cpu")
    assert make_generator(0, "cpu").device == torch.device("cpu")


@pytest.mark.parametrize("raw", ["x", "1.5", "-1", "seed"])
def test_a_bad_course_seed_is_a_clear_value_error(monkeypatch, raw):
    monkeypatch.setenv(SEED_ENV_VAR, raw)
    with pytest.raises(ValueError, match="COURSE_SEED must be a non-negative integer"):
        seed_offset()


@pytest.mark.parametrize("seed", [-1, 1.0, "3", True, None])
def test_a_bad_seed_is_a_clear_value_error(monkeypatch, seed):
    monkeypatch.delenv(SEED_ENV_VAR, raising=False)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        make_generator(seed)


def test_blank_course_seed_means_no_offset(monkeypatch):
    monkeypatch.setenv(SEED_ENV_VAR, "  ")
    assert seed_offset() == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_non_integer_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_everything(bad)
