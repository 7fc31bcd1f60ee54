"""Dataset loaders registered by name, and ``load_task`` which turns one into a Task.

A loader returns raw numpy arrays and a little metadata (:class:`RawData`). ``load_task``
then normalises with statistics of the training data, carves a seeded stratified
validation split, optionally subsamples the training split and converts to tensors.
Datasets without an official test split (``digits``, and ``npz`` or ``image-folder``
without one) get a fixed stratified 20% test split drawn with seed 0, so the test set
never depends on ``seed``.

Folders are looked for in the ``data_dir`` argument (or its ``<name>`` sub-folder), else
under ``$ARCHSEARCH_DATA_DIR`` (``<root>/<name>``, then ``<root>``), else in the folder of
the Debian package where one exists (``/usr/share/datasets/fashion-mnist``).
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import torch

from archsearch.data.task import Task
from archsearch.errors import DatasetError, InvalidParameterError
from archsearch.registry import Registry

__all__ = ["DATASETS", "RawData", "load_task", "list_datasets"]

PathArg: TypeAlias = "str | os.PathLike[str] | None"
Splits: TypeAlias = "tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]"  # x/y train, x/y test

ENV_VAR = "ARCHSEARCH_DATA_DIR"
TEST_FRACTION = 0.2
TEST_SEED = 0
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]  # fmt: skip
FASHION_HINT = (
    "Install it with 'apt-get install dataset-fashion-mnist', or pass --data-dir / "
    f"set {ENV_VAR} to a folder holding the IDX files."
)
MNIST_HINT = (
    "Download the four IDX .gz files from http://yann.lecun.com/exdb/mnist/ into a folder "
    f"and pass --data-dir (Python: data_dir=) or set {ENV_VAR}."
)
CIFAR10_HINT = (
    "Download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, "
    f"extract it and pass --data-dir (Python: data_dir=) or set {ENV_VAR}."
)


@dataclass(frozen=True, eq=False)
class RawData:
    """What a loader returns: arrays before normalisation and splitting.

    Attributes:
        x_train: training images, (N, H, W) for grayscale or (N, C, H, W).
        y_train: integer labels in ``[0, K)``.
        x_test: test images, shaped like ``x_train``.
        y_test: test labels.
        hflip: whether a horizontal flip keeps the label (clothes, photos; not digits).
        info: entries for ``Task.info`` such as ``source`` and ``classes``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    hflip: bool = False
    info: dict[str, Any] = field(default_factory=dict)


DATASETS: Registry[RawData] = Registry("dataset", "archsearch.list_datasets()")


def list_datasets(pattern: str = "*") -> list[str]:
    """Sorted names of the registered datasets matching the shell-style ``pattern``."""
    return DATASETS.names(pattern)


def load_task(
    name: str,
    *,
    data_dir: PathArg = None,
    path: str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    n_train: int | None = None,
) -> Task:
    """Load a dataset by name as a normalised, split :class:`Task`.

    Args:
        name: a registered dataset name, see :func:`list_datasets`.
        data_dir: folder holding the dataset files (for ``npz`` and ``image-folder``,
            an alternative to ``path``).
        path: the ``.npz`` file or image folder, for the ``npz`` and ``image-folder`` datasets.
        val_fraction: share of each class of the training data held out for validation.
        seed: seed of the validation split and of the subsample.
        n_train: keep only this many training examples (stratified); all when larger.

    Returns:
        The task. ``info`` holds ``source``, ``classes``, ``mean`` and ``std`` (per channel,
        of the training data before the validation split), ``seed``, ``val_fraction`` and
        ``n_train`` (the number of training examples kept), plus loader extras.

    Example:
        >>> task = load_task("digits", seed=0)
        >>> task.input_shape, task.n_classes
        ((1, 8, 8), 10)
    """
    loader = DATASETS.get(name)
    _check_params(val_fraction, seed, n_train)
    raw = loader(data_dir=data_dir, path=path)
    x_all, x_test = _as_images(raw.x_train), _as_images(raw.x_test)
    mean, std = _channel_stats(x_all)
    for x in (x_all, x_test):
        x.sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))
    rng = np.random.default_rng(seed)
    y_all = np.asarray(raw.y_train, dtype=np.int64)
    is_val = _stratified_mask(y_all, _holdout_counts(y_all, val_fraction), rng)
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    if n_train is not None and n_train < len(train_idx):
        keep = _stratified_mask(y_all[train_idx], _subsample_counts(y_all[train_idx], n_train), rng)
        train_idx = train_idx[keep]
    y_test = np.asarray(raw.y_test, dtype=np.int64)
    info = {**raw.info, "mean": mean.tolist(), "std": std.tolist(), "seed": seed,
            "val_fraction": val_fraction, "n_train": len(train_idx)}  # fmt: skip
    return Task(
        name=name,
        x_train=x_all[torch.from_numpy(train_idx)],
        y_train=torch.from_numpy(y_all[train_idx]),
        x_val=x_all[torch.from_numpy(val_idx)],
        y_val=torch.from_numpy(y_all[val_idx]),
        x_test=x_test,
        y_test=torch.from_numpy(y_test),
        n_classes=int(max(y_all.max(), y_test.max(initial=0))) + 1,
        hflip=raw.hflip,
        info=info,
    )


# ----------------------------------------------------------------------------- splitting


def _check_params(val_fraction: object, seed: object, n_train: object) -> None:
    if not _is_real(val_fraction) or not 0 < val_fraction < 1:  # type: ignore[operator]
        raise InvalidParameterError(
            "The 'val_fraction' parameter of load_task must be a float in (0, 1). "
            f"Got {val_fraction!r} instead."
        )
    if not _is_int(seed) or seed < 0:  # type: ignore[operator]
        raise InvalidParameterError(
            f"The 'seed' parameter of load_task must be an int >= 0. Got {seed!r} instead."
        )
    if n_train is not None and (not _is_int(n_train) or n_train < 1):  # type: ignore[operator]
        raise InvalidParameterError(
            "The 'n_train' parameter of load_task must be an int >= 1 or None. "
            f"Got {n_train!r} instead."
        )


def _is_real(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _stratified_mask(y: np.ndarray, n_pick: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask picking ``n_pick[c]`` random examples of each class ``c``."""
    order = rng.permutation(len(y))
    order = order[np.argsort(y[order], kind="stable")]  # grouped by class, shuffled within
    counts = np.bincount(y, minlength=len(n_pick))
    starts = np.cumsum(counts) - counts
    ranks = np.arange(len(y)) - starts[y[order]]
    mask = np.zeros(len(y), dtype=bool)
    mask[order[ranks < n_pick[y[order]]]] = True
    return mask


def _holdout_counts(y: np.ndarray, fraction: float) -> np.ndarray:
    """round(fraction * count) per class, leaving at least one example of each class."""
    counts = np.bincount(y)
    wanted = np.rint(fraction * counts).astype(np.int64)
    return np.asarray(np.minimum(wanted, np.maximum(counts - 1, 0)), dtype=np.int64)


def _subsample_counts(y: np.ndarray, n_total: int) -> np.ndarray:
    """Per-class counts proportional to the class sizes, summing to ``n_total``."""
    counts = np.bincount(y)
    quota = n_total * counts / len(y)
    picks = np.floor(quota).astype(np.int64)
    extra = np.argsort(picks - quota, kind="stable")[: n_total - int(picks.sum())]
    picks[extra] += 1  # largest remainders first
    return picks


def _carve_test(x: np.ndarray, y: np.ndarray) -> Splits:
    """Fixed stratified test split (seed 0), for data shipped without one."""
    rng = np.random.default_rng(TEST_SEED)
    is_test = _stratified_mask(y, _holdout_counts(y, TEST_FRACTION), rng)
    return x[~is_test], y[~is_test], x[is_test], y[is_test]


def _as_images(x: np.ndarray) -> torch.Tensor:
    """A float32 (N, C, H, W) tensor holding a copy of ``x``."""
    x = np.array(x, dtype=np.float32, order="C")
    return torch.from_numpy(x[:, None] if x.ndim == 3 else x)


def _channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    var, mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
    std = var.sqrt()
    return mean, torch.where(std > 0, std, torch.ones_like(std))  # constant channels: no scaling


# ----------------------------------------------------------------------------- locating files


def _search_dirs(subdir: str, data_dir: PathArg, default: str | None) -> list[Path]:
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        return [root, root / subdir]
    env = os.environ.get(ENV_VAR)
    if env:
        root = Path(env).expanduser()
        return [root / subdir, root]
    return [Path(default)] if default else []


def _not_found(name: str, wanted: str, dirs: Sequence[Path], hint: str) -> DatasetError:
    where = ", ".join(str(d) for d in dirs) or f"no folder (no data_dir given and {ENV_VAR} unset)"
    return DatasetError(f"Dataset {name!r} not found: looked for {wanted} in {where}. {hint}")


def _user_path(name: str, path: str | None, data_dir: PathArg) -> Path:
    given = path if path is not None else data_dir
    if given is None:
        raise InvalidParameterError(
            f"Dataset {name!r} needs a location: pass path= (CLI: --data-dir). "
            "Got neither path nor data_dir."
        )
    return Path(given).expanduser()


# ----------------------------------------------------------------------------- digits


@DATASETS.register("digits")
def _digits(data_dir: PathArg = None, path: str | None = None) -> RawData:
    """scikit-learn's 1797 8x8 handwritten digits (values 0..16); no download needed."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x_train, y_train, x_test, y_test = _carve_test(bunch.images, bunch.target.astype(np.int64))
    info = {"source": "sklearn.datasets.load_digits", "classes": list(range(10))}
    return RawData(x_train, y_train, x_test, y_test, hflip=False, info=info)


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


# ----------------------------------------------------------------------------- CIFAR-10

CIFAR10_DIR = "cifar-10-batches-py"
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_FROMBUFFER = np.empty(1).__reduce_ex__(5)[0]
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("_codecs").encode,
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays; refuses every other global."""

    def __init__(self, file: Any, source: Path) -> None:
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise DatasetError(
                f"{self.source} is not a plain CIFAR-10 batch: it references {module}.{name}, "
                "which is refused for safety. Extract cifar-10-python.tar.gz again."
            ) from None


@DATASETS.register("cifar10")
def _cifar10(data_dir: PathArg = None, path: str | None = None) -> RawData:
    """CIFAR-10, "python version": 60000 32x32 colour photos in pickled batches."""
    dirs = _search_dirs(CIFAR10_DIR, data_dir, None)
    folder = next((d for d in dirs if (d / "data_batch_1").is_file()), None)
    if folder is None:
        raise _not_found("cifar10", f"{CIFAR10_DIR}/data_batch_1", dirs, CIFAR10_HINT)
    batches = [_read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _read_cifar_batch(folder / "test_batch")
    x_train = np.concatenate([x for x, _ in batches])
    y_train = np.concatenate([y for _, y in batches])
    info = {"source": str(folder), "classes": CIFAR10_CLASSES}
    return RawData(x_train, y_train, x_test, y_test, hflip=True, info=info)


def _read_cifar_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    if not file.is_file():
        raise DatasetError(f"Dataset 'cifar10' is incomplete: {file} is missing. {CIFAR10_HINT}")
    try:
        with open(file, "rb") as fh:
            batch = _ArrayUnpickler(fh, file).load()
    except DatasetError:
        raise
    except Exception as err:  # a corrupt pickle can raise nearly any error type
        message = f"Cannot read CIFAR-10 batch {file}: {type(err).__name__}: {err}. {CIFAR10_HINT}"
        raise DatasetError(message) from err
    batch = batch if isinstance(batch, dict) else {}
    data, labels = batch.get(b"data"), np.asarray(batch.get(b"labels", []))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape[1:] != (3072,):
        data = None
    if data is None or labels.shape != (len(data),) or not np.isin(labels, np.arange(10)).all():
        raise DatasetError(
            f"{file} is not a CIFAR-10 batch: expected a dict with b'data' (N x 3072 uint8) and "
            f"N b'labels' in 0..9. {CIFAR10_HINT}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


# ----------------------------------------------------------------------------- npz

NPZ_HINT = "Save it with numpy.savez(file, x=..., y=...)."


@DATASETS.register("npz")
def _npz(data_dir: PathArg = None, path: str | None = None) -> RawData:
    """A user ``.npz`` with ``x`` and integer ``y``, optionally ``x_test`` and ``y_test``.

    ``x`` may be (N, H, W), (N, C, H, W) or (N, H, W, C); the last is recognised when the
    last dimension is 1 or 3 and the second is not. Labels of any integer values are
    mapped to 0..K-1 in sorted order; ``info["classes"]`` keeps the original values.
    """
    file = _user_path("npz", path, data_dir)
    arrays = _read_npz(file)
    x, y = _npz_pair(file, arrays, "x", "y")
    x_test, y_test = x[:0], y[:0]
    if "x_test" in arrays or "y_test" in arrays:
        x_test, y_test = _npz_pair(file, arrays, "x_test", "y_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise DatasetError(
                f"{file}: 'x_test' images are {x_test.shape[1:]} but 'x' images are "
                f"{x.shape[1:]}. Make them match."
            )
    classes, labels = np.unique(np.concatenate([y, y_test]), return_inverse=True)
    labels = labels.reshape(-1).astype(np.int64)
    info = {"source": str(file), "classes": classes.tolist()}
    if "x_test" not in arrays:
        return RawData(*_carve_test(x, labels), hflip=False, info=info)
    return RawData(x, labels[: len(y)], x_test, labels[len(y) :], hflip=False, info=info)


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise DatasetError(
            f"Dataset file {file} not found. Pass path= (CLI: --data-dir) naming an .npz file "
            "with arrays 'x' and 'y'."
        )
    try:
        npz = np.load(file, allow_pickle=False)
    except Exception as err:  # np.load reports a foreign file with several error types
        raise DatasetError(f"{file} is not an .npz file ({err}). {NPZ_HINT}") from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DatasetError(f"{file} is a single .npy array, not an .npz. {NPZ_HINT}")
    with npz:
        try:
            return {k: npz[k] for k in ("x", "y", "x_test", "y_test") if k in npz.files}
        except Exception as err:  # object arrays, corrupt zip members
            raise DatasetError(f"Cannot read {file}: {err}. {NPZ_HINT}") from err


def _npz_pair(
    file: Path, arrays: dict[str, np.ndarray], x_key: str, y_key: str
) -> tuple[np.ndarray, np.ndarray]:
    for key in (x_key, y_key):
        if key not in arrays:
            held = ", ".join(sorted(arrays)) or "none of x, y, x_test, y_test"
            raise DatasetError(f"{file} lacks the array {key!r} (it holds {held}). {NPZ_HINT}")
    x, y = _npz_images(file, x_key, arrays[x_key]), arrays[y_key]
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(
            f"{file}: {y_key!r} must be integer labels shaped (N,); got {y.dtype} {y.shape}. "
            "Convert with y.astype(int)."
        )
    if len(y) != len(x):
        raise DatasetError(
            f"{file}: {x_key!r} holds {len(x)} examples but {y_key!r} holds {len(y)} labels. "
            "Give one label per example."
        )
    return x, y


def _npz_images(file: Path, key: str, x: np.ndarray) -> np.ndarray:
    numeric = np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_
    if not numeric or x.ndim not in (3, 4) or len(x) == 0:
        raise DatasetError(
            f"{file}: {key!r} must be a non-empty numeric array shaped (N, H, W), (N, C, H, W) "
            f"or (N, H, W, C); got {x.dtype} {x.shape}."
        )
    if np.issubdtype(x.dtype, np.inexact) and not np.isfinite(x).all():
        raise DatasetError(f"{file}: {key!r} contains NaN or infinite values. Clean or drop them.")
    if x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # channels last -> channels first
    return x


# ----------------------------------------------------------------------------- image folder


@DATASETS.register("image-folder")
def _image_folder(data_dir: PathArg = None, path: str | None = None) -> RawData:
    """A folder with one sub-folder of images per class, optionally under train/ and test/.

    Images become RGB, or grayscale when every image is grayscale. Images whose size
    differs from the most common size (the first seen on a tie) are resized to it,
    bilinearly; ``info["n_resized"]`` counts them.
    """
    root = _user_path("image-folder", path, data_dir)
    if not root.is_dir():
        raise DatasetError(
            f"Image folder {root} not found. Pass path= (CLI: --data-dir) naming a folder with "
            "one sub-folder per class."
        )
    image_module = _import_pillow()
    split = (root / "train").is_dir() and (root / "test").is_dir()
    train_dir = root / "train" if split else root
    classes = _class_names(train_dir)
    train_files, y_train = _list_images(train_dir, classes, required=True)
    test_files: list[Path] = []
    y_test = None
    if split:
        test_files, y_test = _list_images(root / "test", classes, required=False)
    x, n_resized = _decode_images(image_module, train_files + test_files)
    x_train, x_test = x[: len(train_files)], x[len(train_files) :]
    if y_test is None:
        x_train, y_train, x_test, y_test = _carve_test(x_train, y_train)
    info = {"source": str(root), "classes": classes, "n_resized": n_resized}
    return RawData(x_train, y_train, x_test, y_test, hflip=True, info=info)


def _import_pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError(
            "Loading an image folder needs Pillow: pip install 'archsearch[images]'."
        ) from None
    return Image


def _class_names(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DatasetError(
            f"Image folder {folder} has no class sub-folders. Put the images of each class in "
            "a sub-folder named after it."
        )
    return names


def _list_images(
    folder: Path, classes: list[str], *, required: bool
) -> tuple[list[Path], np.ndarray]:
    """Image files of every class folder, and their labels (indices into ``classes``)."""
    extra = sorted(set(_class_names(folder)) - set(classes))
    if extra:
        raise DatasetError(
            f"{folder} has class folders {extra} that the training data lacks. "
            "Add them to train/ or remove them."
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        found = sorted(p for p in (folder / name).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found and (required or (folder / name).is_dir()):
            raise DatasetError(
                f"Class folder {folder / name} holds no images "
                f"({', '.join(sorted(IMAGE_SUFFIXES))}). Add images or remove it."
            )
        files += found
        labels += [label] * len(found)
    return files, np.asarray(labels, dtype=np.int64)


def _decode_images(image_module: Any, files: list[Path]) -> tuple[np.ndarray, int]:
    """Stack the images as (N, H, W) grayscale or (N, 3, H, W) RGB; count the resized ones."""
    images = [_open_image(image_module, f) for f in files]
    mode = "L" if all(im.mode in GRAY_MODES for im in images) else "RGB"
    size = Counter(im.size for im in images).most_common(1)[0][0]
    resample = getattr(image_module, "Resampling", image_module).BILINEAR
    images = [im.convert(mode) for im in images]
    n_resized = sum(im.size != size for im in images)
    images = [im if im.size == size else im.resize(size, resample) for im in images]
    x = np.stack([np.asarray(im) for im in images])
    return (x if mode == "L" else x.transpose(0, 3, 1, 2)), n_resized


def _open_image(image_module: Any, file: Path) -> Any:
    try:
        with image_module.open(file) as im:
            im.load()
            return im.copy()
    except (OSError, ValueError, SyntaxError, image_module.DecompressionBombError) as err:
        raise DatasetError(f"Cannot read image {file}: {err}. Replace or remove it.") from err
