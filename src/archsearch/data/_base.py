"""Shared pieces of the dataset loaders: the raw-data record, the registry, splits, paths."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import torch

from archsearch.errors import DatasetError, InvalidParameterError
from archsearch.registry import Registry

PathArg: TypeAlias = "str | os.PathLike[str] | None"
Splits: TypeAlias = "tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]"  # x/y train, x/y test

ENV_VAR = "ARCHSEARCH_DATA_DIR"
TEST_FRACTION = 0.2
TEST_SEED = 0




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


