"""MNIST and Fashion-MNIST: IDX files, gzip'ed or not."""

from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from archsearch.data._base import (
    DATASETS,
    ENV_VAR,
    PathArg,
    RawData,
    Splits,
    _not_found,
    _search_dirs,
)
from archsearch.errors import DatasetError

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
FASHION_HINT = (
    "Install it with 'apt-get install dataset-fashion-mnist', or pass --data-dir / "
    f"set {ENV_VAR} to a folder holding the IDX files."
)
MNIST_HINT = (
    "Download the four IDX .gz files from http://yann.lecun.com/exdb/mnist/ into a folder "
    f"and pass --data-dir (Python: data_dir=) or set {ENV_VAR}."
)



# ----------------------------------------------------------------------------- IDX (MNIST-like)

IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")  # fmt: skip


@DATASETS.register("fashion-mnist")
def _fashion_mnist(data_dir: PathArg = None, path: str | None = None) -> RawData:
    """Zalando's Fashion-MNIST: 70000 28x28 grayscale clothes in IDX files."""
    dirs = _search_dirs("fashion-mnist", data_dir, "/usr/share/datasets/fashion-mnist")
    splits, folder = _load_idx("fashion-mnist", dirs, FASHION_HINT)
    return RawData(*splits, hflip=True, info={"source": str(folder), "classes": FASHION_CLASSES})


@DATASETS.register("mnist")
def _mnist(data_dir: PathArg = None, path: str | None = None) -> RawData:
    """LeCun's MNIST: 70000 28x28 grayscale digits in IDX files."""
    dirs = _search_dirs("mnist", data_dir, "/usr/share/datasets/mnist")
    splits, folder = _load_idx("mnist", dirs, MNIST_HINT)
    return RawData(*splits, hflip=False, info={"source": str(folder), "classes": list(range(10))})


def _load_idx(name: str, dirs: Sequence[Path], hint: str) -> tuple[Splits, Path]:
    """(x_train, y_train, x_test, y_test) and the folder they were read from."""
    files = _idx_files(name, dirs, hint)
    arrays: list[np.ndarray] = []
    for images, labels in ((files[0], files[1]), (files[2], files[3])):
        x, y = _read_idx(images, IDX_IMAGES), _read_idx(labels, IDX_LABELS).astype(np.int64)
        if len(x) != len(y):
            raise DatasetError(
                f"{images} holds {len(x)} images but {labels} holds {len(y)} labels. "
                "Download both again."
            )
        arrays += [x, y]
    return (arrays[0], arrays[1], arrays[2], arrays[3]), files[0].parent


def _idx_files(name: str, dirs: Sequence[Path], hint: str) -> list[Path]:
    """The four IDX files, all from the first folder holding the training images."""
    folder = next((d for d in dirs if _idx_file(d, IDX_FILES[0])), None)
    if folder is None:
        raise _not_found(name, f"{IDX_FILES[0]}.gz", dirs, hint)
    files = [_idx_file(folder, stem) for stem in IDX_FILES]
    for stem, file in zip(IDX_FILES, files, strict=True):
        if file is None:
            raise _not_found(name, f"{stem}.gz", [folder], hint)
    return [f for f in files if f is not None]


def _idx_file(folder: Path, stem: str) -> Path | None:
    return next((f for f in (folder / f"{stem}.gz", folder / stem) if f.is_file()), None)


def _read_idx(file: Path, magic: int) -> np.ndarray:
    """Parse an unsigned-byte IDX file (optionally gzip'ed) into an array."""
    data = _read_bytes(file)
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(
            f"{file} is truncated: {len(data)} bytes, shorter than its {header}-byte IDX header. "
            "Download it again."
        )
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        kind = "images" if magic == IDX_IMAGES else "labels"
        raise DatasetError(
            f"{file} is not an IDX {kind} file: magic number 0x{got:08x}, expected 0x{magic:08x}. "
            "Check the file name or download it again."
        )
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if 0 in dims:
        raise DatasetError(f"{file} holds no data: its IDX header gives the shape {dims}. "
                           "Download it again.")
    expected = header + math.prod(dims)
    if len(data) != expected:
        raise DatasetError(
            f"{file} is truncated or corrupt: its header promises {expected} bytes but it holds "
            f"{len(data)}. Download it again."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def _read_bytes(file: Path) -> bytes:
    try:
        if file.suffix == ".gz":
            with gzip.open(file, "rb") as fh:
                return fh.read()
        return file.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"Cannot read {file}: {err}. Download it again.") from err


