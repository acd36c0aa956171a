"""MNIST loads offline from the vendored files; corruption is reported with the file's name."""

import gzip
import shutil
import socket

import pytest
import torch

from course_lib import data
from course_lib.data import MNIST_FILES, MNISTChecksumError, MNISTUnavailableError, load_mnist, mnist_tensors


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the test tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_vendored_gzip_files_are_in_the_repository():
    for name in MNIST_FILES:
        assert (data.vendored_dir() / f"{name}.gz").is_file(), name


def test_loads_offline_from_vendored_files_into_an_empty_cache(tmp_path, no_network):
    train = load_mnist(train=True, root=tmp_path)
    test = load_mnist(train=False, root=tmp_path)
    assert len(train) == 60000 and len(test) == 10000
    image, label = train[0]
    assert image.shape == (1, 28, 28) and 0.0 <= image.min() and image.max() <= 1.0
    assert label == 5  # the first training digit of MNIST is a 5
    assert (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").stat().st_size == 47040016


def test_second_load_uses_the_cache_without_extracting_again(tmp_path, no_network, monkeypatch):
    load_mnist(train=False, root=tmp_path)

    def fail(*args, **kwargs):
        raise AssertionError("extracted again although the cache was complete")

    monkeypatch.setattr(data, "extract_vendored", fail)
    assert len(load_mnist(train=False, root=tmp_path)) == 10000


def test_mnist_tensors_are_flat_scaled_and_int64(tmp_path, no_network):
    X, y = mnist_tensors(train=False, root=tmp_path, dtype=torch.float64)
    assert X.shape == (10000, 784) and X.dtype == torch.float64 and y.dtype == torch.int64
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0
    assert sorted(torch.unique(y).tolist()) == list(range(10))


def _copy_vendored(tmp_path):
    vendored = tmp_path / "vendored"
    vendored.mkdir()
    for name in MNIST_FILES:
        shutil.copy(data.vendored_dir() / f"{name}.gz", vendored / f"{name}.gz")
    return vendored


def test_a_file_with_wrong_bytes_is_named_in_the_error(tmp_path):
    vendored = _copy_vendored(tmp_path)
    # Re-compress the labels with one byte changed: valid gzip, wrong content.
    name = "t10k-labels-idx1-ubyte"
    with gzip.open(vendored / f"{name}.gz", "rb") as f:
        raw = bytearray(f.read())
    raw[100] ^= 0xFF
    with gzip.open(vendored / f"{name}.gz", "wb") as f:
        f.write(bytes(raw))
    with pytest.raises(MNISTChecksumError, match=name):
        data.extract_vendored(tmp_path / "cache", vendored_dir=vendored)
    assert not (tmp_path / "cache" / "MNIST" / "raw" / name).exists()


def test_a_truncated_gzip_file_is_named_in_the_error(tmp_path):
    vendored = _copy_vendored(tmp_path)
    name = "train-labels-idx1-ubyte"
    path = vendored / f"{name}.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(MNISTChecksumError, match=name):
        data.extract_vendored(tmp_path / "cache", vendored_dir=vendored)


def test_without_any_source_the_error_lists_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(MNISTUnavailableError) as info:
        load_mnist(root=tmp_path / "cache", download=False)
    message = str(info.value)
    assert "vendored" in message and "cache" in message and "download" in message and "What to do" in message


def test_cache_folder_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path))
    assert data.default_root() == tmp_path


def test_vendored_data_follows_the_environment_variable_then_the_checkout(tmp_path, monkeypatch, repo_root):
    monkeypatch.delenv(data.DATA_DIR_ENV_VAR, raising=False)
    assert data.vendored_dir() == repo_root / "data" / "mnist"
    monkeypatch.setenv(data.DATA_DIR_ENV_VAR, str(tmp_path))
    assert data.vendored_dir() == tmp_path / "mnist"


def test_the_vendored_data_is_found_through_the_setting_alone(tmp_path, monkeypatch):
    """A copy of the data outside any checkout, named by COURSE_DATA_DIR, is extracted and loaded."""
    (tmp_path / "data").mkdir()
    _copy_vendored(tmp_path / "data").rename(tmp_path / "data" / "mnist")
    monkeypatch.setenv(data.DATA_DIR_ENV_VAR, str(tmp_path / "data"))
    monkeypatch.setattr(data, "checkout", lambda: None)
    X, y = mnist_tensors(train=False, root=tmp_path / "cache")
    assert X.shape == (10000, 784) and y.shape == (10000,)


# --- the path a Colab student takes: course_lib pip-installed without data/, so torchvision downloads MNIST

@pytest.fixture
def installed_without_data(tmp_path, monkeypatch, no_network):
    """course_lib as pip installs it in Colab (no vendored data/), with torchvision's download mocked.

    The mock serves the repository's vendored gzip files through torchvision's own extraction code; the
    test never reaches the network. It returns the list of URLs torchvision asked for.
    """
    import torchvision.datasets.mnist as tv_mnist
    from torchvision.datasets.utils import extract_archive

    vendored = data.vendored_dir()
    monkeypatch.setattr(data, "checkout", lambda: None)
    monkeypatch.delenv(data.DATA_DIR_ENV_VAR, raising=False)
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    urls = []

    def fake_download_and_extract_archive(url, download_root, filename=None, md5=None, **kwargs):
        urls.append(url)
        target = tmp_path / "served" / filename
        target.parent.mkdir(exist_ok=True)
        shutil.copy(vendored / filename, target)
        shutil.copy(target, f"{download_root}/{filename}")
        extract_archive(f"{download_root}/{filename}", download_root)

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", fake_download_and_extract_archive)
    return urls


def test_in_colab_the_cache_is_in_the_home_folder(installed_without_data, tmp_path):
    assert data.default_root() == tmp_path / "home" / ".cache" / "course_lib"


def test_in_colab_mnist_is_downloaded_checked_and_loaded(installed_without_data, tmp_path):
    X, y = mnist_tensors(train=False)
    assert X.shape == (10000, 784) and y.shape == (10000,)
    assert {u.rsplit("/", 1)[1] for u in installed_without_data} == {f"{n}.gz" for n in MNIST_FILES}
    assert (tmp_path / "home" / ".cache" / "course_lib" / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    n = len(installed_without_data)
    assert len(load_mnist(train=True)) == 60000 and len(installed_without_data) == n, "the second load is cached"


def test_in_colab_a_corrupted_download_is_deleted_and_named(installed_without_data, tmp_path, monkeypatch):
    import torchvision.datasets.mnist as tv_mnist

    real = tv_mnist.download_and_extract_archive

    def corrupting(url, download_root, filename=None, md5=None, **kwargs):
        real(url, download_root, filename=filename, md5=md5)
        if filename.startswith("t10k-labels"):
            path = f"{download_root}/t10k-labels-idx1-ubyte"
            with open(path, "r+b") as f:
                f.seek(100)
                f.write(b"\x07")  # one label changed: torchvision's own checks would not notice

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", corrupting)
    with pytest.raises(MNISTChecksumError, match="t10k-labels-idx1-ubyte.*deleted"):
        load_mnist(train=False)
    assert not (tmp_path / "home" / ".cache" / "course_lib" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").exists()
