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

import time

import numpy as np
import torch

from archsearch._utils.log import logger
from archsearch.data import _cifar, _files, _idx  # noqa: F401 - registers their loaders
from archsearch.data._base import (
    DATASETS,
    PathArg,
    RawData,
    _as_images,
    _carve_test,
    _channel_stats,
    _check_params,
    _holdout_counts,
    _stratified_mask,
    _subsample_counts,
    list_datasets,
)
from archsearch.data.task import Task
from archsearch.errors import DatasetError, InvalidParameterError

__all__ = ["DATASETS", "RawData", "load_task", "list_datasets"]


def load_task(
    name: str,
    *,
    data_dir: PathArg = None,
    path: str | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    n_train: int | None = None,
    image_size: int | None = None,
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
        image_size: resize every image to ``image_size`` x ``image_size`` (area averaging
            when shrinking, bilinear when growing); None keeps the native size.

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
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                   or image_size < 1):
        raise InvalidParameterError("The 'image_size' parameter of load_task must be an int >= 1 "
                                    f"or None. Got {image_size!r} instead.")
    start = time.perf_counter()
    logger.info("loading dataset %r ...", name)
    raw = loader(data_dir=data_dir, path=path)
    x_all, x_test = _as_images(raw.x_train), _as_images(raw.x_test)
    if image_size is not None:
        x_all, x_test = _resize(x_all, image_size), _resize(x_test, image_size)
    mean, std = _channel_stats(x_all)
    if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
        raise DatasetError(f"Dataset {name!r}: its images hold values too large for float32 "
                           "statistics (the mean or spread per channel is not finite). Rescale them.")
    for x in (x_all, x_test):
        x.sub_(mean.view(1, -1, 1, 1)).div_(std.view(1, -1, 1, 1))
    rng = np.random.default_rng(seed)
    y_all = np.asarray(raw.y_train, dtype=np.int64)
    is_val = _stratified_mask(y_all, _holdout_counts(y_all, val_fraction), rng)
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    _check_split_sizes(name, len(y_all), len(train_idx), len(val_idx), len(raw.y_test),
                       val_fraction)
    if n_train is not None and n_train < len(train_idx):
        n_classes = len(np.unique(y_all[train_idx]))
        if n_train < n_classes:
            raise InvalidParameterError(
                f"n_train={n_train} cannot hold one example of each of the {n_classes} classes "
                f"of dataset {name!r} (the subsample is stratified). Give n_train >= {n_classes}."
            )
        keep = _stratified_mask(y_all[train_idx], _subsample_counts(y_all[train_idx], n_train), rng)
        train_idx = train_idx[keep]
    y_test = np.asarray(raw.y_test, dtype=np.int64)
    logger.info("loaded dataset %r in %.1f s: %d training, %d validation, %d test images of %s",
                name, time.perf_counter() - start, len(train_idx), len(val_idx), len(y_test),
                "x".join(str(d) for d in x_all.shape[1:]))
    info = {**raw.info, "mean": mean.tolist(), "std": std.tolist(), "seed": seed,
            "val_fraction": val_fraction, "n_train": len(train_idx),
            "image_size": image_size}  # fmt: skip
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



# ----------------------------------------------------------------------------- digits


@DATASETS.register("digits")
def _digits(data_dir: PathArg = None, path: str | None = None) -> RawData:
    """scikit-learn's 1797 8x8 handwritten digits (values 0..16); no download needed."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x_train, y_train, x_test, y_test = _carve_test(bunch.images, bunch.target.astype(np.int64))
    info = {"source": "sklearn.datasets.load_digits", "classes": list(range(10))}
    return RawData(x_train, y_train, x_test, y_test, hflip=False, info=info)




def _check_split_sizes(name: str, n_all: int, n_train: int, n_val: int, n_test: int,
                       val_fraction: float) -> None:
    """Refuse a dataset whose training, validation or test split would be empty."""
    empty = [split for split, n in (("training", n_train), ("validation", n_val),
                                    ("test", n_test)) if n == 0]
    if empty:
        raise DatasetError(
            f"Dataset {name!r} is too small: its {n_all} example{'s' if n_all != 1 else ''} "
            f"for training and validation give {n_train} training and {n_val} validation "
            f"examples, and it has {n_test} test examples, so the {empty[0]} split would be "
            f"empty. Each split takes a share of every class (val_fraction={val_fraction:g}; "
            "a test split, when the data has none, 20%) and one example of each class stays "
            "for training: give at least 2 examples of some class, or more data."
        )


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a batch of images to size x size in one call."""
    if x.shape[-2:] == (size, size):
        return x
    shrink = size <= min(x.shape[-2:])
    mode = "area" if shrink else "bilinear"
    return torch.nn.functional.interpolate(x, size=(size, size), mode=mode).contiguous()
