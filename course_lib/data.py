"""MNIST for the course: offline from the files vendored in the repository, or downloaded in Colab.

:func:`load_mnist` returns ``torchvision.datasets.MNIST`` objects; :func:`mnist_tensors` returns the
whole split as two tensors (images flattened and scaled to [0, 1], labels as int64), which is what the
small, fast experiments of the chapters want. Where the data comes from, in order:

1. the cache folder, if the four raw files are already extracted there (``ROOT/MNIST/raw/``);
2. the vendored gzip files (:func:`vendored_dir`: ``$COURSE_DATA_DIR/mnist/`` when that variable is set,
   else ``data/mnist/`` of the course's repository when ``course_lib`` runs from a checkout of it or
   a notebook runs inside one), extracted into the cache after each file's uncompressed bytes are
   checked against the sha256 in :data:`MNIST_FILES`;
3. torchvision's own download (what happens in Colab, where the package is installed without the data),
   into ``~/.cache/course_lib``; each downloaded file's uncompressed bytes are then checked against the
   same sha256 as the vendored ones (a corrupted or substituted file is deleted and reported).

If none of these works, :class:`MNISTUnavailableError` says what was tried and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import torch

#: Environment variable that moves the cache folder (default: ``<repository>/data/cache`` in a
#: checkout, else ``~/.cache/course_lib``).
DATA_ENV_VAR = "COURSE_DATA"
#: Environment variable naming the folder that holds the vendored data (``mnist/*.gz``), i.e. the
#: repository's ``data/``; when unset, a checkout of the repository is looked for.
DATA_DIR_ENV_VAR = "COURSE_DATA_DIR"

#: The four raw files: name -> (size in bytes, sha256 of the uncompressed bytes).
MNIST_FILES: dict[str, tuple[int, str]] = {
    "train-images-idx3-ubyte": (47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}

#: A folder is a checkout of the course's repository when it holds these (the data's own README among them).
_CHECKOUT_MARKERS = ("pyproject.toml", "_config.yml", "data/mnist/README.md")


class MNISTUnavailableError(RuntimeError):
    """No source of MNIST worked; the message lists what was tried."""


class MNISTChecksumError(MNISTUnavailableError):
    """A vendored or cached MNIST file is corrupted; the message names it."""


def _is_checkout(folder: Path) -> bool:
    return all((folder / marker).is_file() for marker in _CHECKOUT_MARKERS)


def checkout() -> Path | None:
    """The repository checkout ``course_lib`` runs in: the folder above the package (an editable install)
    or the current folder or one above it (a notebook run inside a checkout), recognised by its files."""
    candidates = [Path(__file__).resolve().parents[1]]
    cwd = Path.cwd().resolve()
    candidates += [cwd, *cwd.parents]
    return next((c for c in candidates if _is_checkout(c)), None)


def vendored_dir() -> Path | None:
    """The folder of the vendored ``*.gz`` files: ``$COURSE_DATA_DIR/mnist``, else a checkout's
    ``data/mnist``, else None (pip-installed without the repository: download instead)."""
    if os.environ.get(DATA_DIR_ENV_VAR):
        return Path(os.environ[DATA_DIR_ENV_VAR]).expanduser() / "mnist"
    repository = checkout()
    return None if repository is None else repository / "data" / "mnist"


_locate_vendored = vendored_dir  # extract_vendored's argument has the function's name


def default_root() -> Path:
    """The cache folder: ``$COURSE_DATA`` if set, else ``data/cache`` in a checkout, else ``~/.cache/course_lib``."""
    if os.environ.get(DATA_ENV_VAR):
        return Path(os.environ[DATA_ENV_VAR]).expanduser()
    repository = checkout()
    if repository is not None:
        return repository / "data" / "cache"
    return Path.home() / ".cache" / "course_lib"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _raw_dir(root: Path) -> Path:
    return root / "MNIST" / "raw"


def _cached(root: Path) -> bool:
    """True when all four raw files are in the cache with the right sizes (checked cheaply)."""
    raw = _raw_dir(root)
    return all((raw / name).is_file() and (raw / name).stat().st_size == size for name, (size, _) in MNIST_FILES.items())


def verify_cache(root: Path) -> None:
    """Check the four raw files in ``root/MNIST/raw`` against :data:`MNIST_FILES`; delete and report a bad one."""
    raw = _raw_dir(root)
    for name, (size, sha256) in MNIST_FILES.items():
        path = raw / name
        actual = _sha256(path) if path.is_file() else "missing"
        if actual != sha256:
            path.unlink(missing_ok=True)
            raise MNISTChecksumError(
                f"the downloaded MNIST file {path} has sha256 {actual}, expected {sha256}; it was deleted. "
                "Run the cell again to download it again."
            )


def extract_vendored(root: Path, vendored_dir: Path | None = None) -> None:
    """Uncompress the vendored ``*.gz`` files into ``root/MNIST/raw``, checking each file's sha256.

    Raises :class:`MNISTChecksumError` naming the first corrupted file, and leaves no partial file behind.
    """
    if vendored_dir is None:
        vendored_dir = _locate_vendored()
        if vendored_dir is None:
            raise FileNotFoundError(f"no vendored MNIST: set {DATA_DIR_ENV_VAR} or run in a checkout")
    raw = _raw_dir(root)
    raw.mkdir(parents=True, exist_ok=True)
    for name, (size, sha256) in MNIST_FILES.items():
        source = vendored_dir / f"{name}.gz"
        if not source.is_file():
            raise FileNotFoundError(f"vendored MNIST file missing: {source}")
        target = raw / name
        partial = target.with_suffix(f".partial-{os.getpid()}")  # processes extracting at once (make -j)
        try:
            with gzip.open(source, "rb") as fin, open(partial, "wb") as fout:
                shutil.copyfileobj(fin, fout, length=1 << 20)
        except (OSError, EOFError) as err:
            partial.unlink(missing_ok=True)
            raise MNISTChecksumError(f"{source} is corrupted: it does not uncompress ({err}).") from err
        actual = _sha256(partial)
        if actual != sha256 or partial.stat().st_size != size:
            partial.unlink(missing_ok=True)
            raise MNISTChecksumError(
                f"{source} is corrupted: its uncompressed bytes have sha256 {actual}, expected {sha256}. "
                f"Restore it from the repository (git checkout -- {source.name}) or delete it to download instead."
            )
        partial.replace(target)


def load_mnist(train: bool = True, root: str | Path | None = None, download: bool = True):
    """Return ``torchvision.datasets.MNIST`` for the training (``train=True``) or test split.

    Tries the cache, then the vendored files, then (if ``download``) torchvision's download; see the
    module docstring. ``transform`` is ``ToTensor()``, so an item is a (1, 28, 28) float tensor in [0, 1].
    """
    from torchvision import datasets, transforms

    root = Path(root).expanduser() if root is not None else default_root()
    tried: list[str] = []

    if not _cached(root):
        vendored = vendored_dir()
        if vendored is not None and vendored.is_dir():
            try:
                extract_vendored(root, vendored)
            except MNISTChecksumError:
                raise
            except OSError as err:
                tried.append(f"extracting the vendored files in {vendored} into {root}: {err}")
        else:
            tried.append(f"vendored files: {vendored or 'no checkout of the repository and no ' + DATA_DIR_ENV_VAR}"
                         " (course_lib installed without the repository)")
    if _cached(root):
        return datasets.MNIST(str(root), train=train, download=False, transform=transforms.ToTensor())
    tried.append(f"cache: {_raw_dir(root)} does not hold the four raw files")

    if download:
        try:
            datasets.MNIST(str(root), train=train, download=True, transform=transforms.ToTensor())
        except Exception as err:  # noqa: BLE001 -- torchvision raises many kinds; each is reported below
            tried.append(f"torchvision download into {root}: {type(err).__name__}: {err}")
        else:
            verify_cache(root)
            return datasets.MNIST(str(root), train=train, download=False, transform=transforms.ToTensor())
    else:
        tried.append("torchvision download: skipped (download=False)")
    raise MNISTUnavailableError(
        "MNIST could not be loaded. Tried:\n  - "
        + "\n  - ".join(tried)
        + "\nWhat to do: run from a checkout of the course repository (it vendors the data in data/mnist/), "
        "or set COURSE_DATA_DIR to a folder holding mnist/ with the vendored *.gz files, "
        "or allow network access so torchvision can download it, or set COURSE_DATA to a folder that holds "
        "MNIST/raw/ with the four uncompressed IDX files."
    )


def mnist_tensors(
    train: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    root: str | Path | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split as ``(X, y)``: ``X`` of shape (N, 784) scaled to [0, 1], ``y`` int64 labels of shape (N,)."""
    dataset = load_mnist(train=train, root=root)
    X = dataset.data.reshape(len(dataset.data), -1).to(dtype=dtype) / 255.0
    y = dataset.targets.to(torch.int64)
    return X.to(device), y.to(device)
