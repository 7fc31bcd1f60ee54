"""CIFAR-10: the python-pickle batches, read with an unpickler that only builds arrays."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.data._base import DATASETS, ENV_VAR, PathArg, RawData, _not_found, _search_dirs
from archsearch.errors import DatasetError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]  # fmt: skip
CIFAR10_HINT = (
    "Download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, "
    f"extract it and pass --data-dir (Python: data_dir=) or set {ENV_VAR}."
)



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
        reason = " ".join(str(err).split())[:200]  # some unpickling errors span two lines
        message = f"Cannot read CIFAR-10 batch {file}: {type(err).__name__}: {reason}. {CIFAR10_HINT}"
        raise DatasetError(message) from err
    batch = batch if isinstance(batch, dict) else {}
    data = batch.get(b"data")
    try:
        labels = np.asarray(batch.get(b"labels", []))
    except (ValueError, TypeError):  # ragged lists: not labels, refused below
        labels = np.empty((0, 0))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape[1:] != (3072,):
        data = None
    if data is None or labels.shape != (len(data),) or not np.isin(labels, np.arange(10)).all():
        raise DatasetError(
            f"{file} is not a CIFAR-10 batch: expected a dict with b'data' (N x 3072 uint8) and "
            f"N b'labels' in 0..9. {CIFAR10_HINT}"
        )
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


