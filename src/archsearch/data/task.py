"""The Task: what is being learned, held as tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Task"]


@dataclass(frozen=True, eq=False)
class Task:
    """A classification task with train / validation / test splits held as tensors.

    Inputs are float32, normalised, shaped (N, C, H, W); labels are int64 in
    ``[0, n_classes)``. The validation split is carved from the training data; the test
    split is for the final model only.

    Example:
        >>> from archsearch.data import load_task
        >>> task = load_task("digits", seed=0)
        >>> task.input_shape, task.n_classes
        ((1, 8, 8), 10)
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    hflip: bool = False
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def train_and_val(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training and validation data joined, for final training."""
        return torch.cat([self.x_train, self.x_val]), torch.cat([self.y_train, self.y_val])

    def __repr__(self) -> str:
        return (
            f"Task({self.name!r}, input_shape={self.input_shape}, n_classes={self.n_classes}, "
            f"train={len(self.y_train)}, val={len(self.y_val)}, test={len(self.y_test)})"
        )
