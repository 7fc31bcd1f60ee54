"""A user's own data: an .npz file or a folder of images, one sub-folder per class."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.data._base import DATASETS, PathArg, RawData, _carve_test, _user_path
from archsearch.errors import DatasetError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})



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
        # numpy's first sentence only: the rest advises allow_pickle=True, which runs code
        reason = " ".join(str(err).split()).split(". ")[0].rstrip(".")
        if "pickle" in reason:
            reason = "it is neither a zip of arrays nor an .npy array"
        raise DatasetError(f"{file} is not an .npz file ({reason}). {NPZ_HINT}") from err
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
    numeric = (np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.complexfloating)
               ) or x.dtype == np.bool_
    if not numeric or x.ndim not in (3, 4) or x.size == 0:  # (also an image side of 0)
        raise DatasetError(
            f"{file}: {key!r} must be a non-empty numeric array (real, not complex) shaped "
            "(N, H, W), (N, C, H, W) "
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

