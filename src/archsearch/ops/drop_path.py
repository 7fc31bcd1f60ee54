"""Drop-path: the regulariser of NASNet and DARTS that drops whole edges of a cell."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["drop_path"]


def drop_path(x: Tensor, drop_prob: float) -> Tensor:
    """Zero whole examples with probability ``drop_prob``, scaling the rest up to keep the mean.

    Example:
        >>> out = drop_path(torch.ones(1000, 2, 1, 1), 0.5)
        >>> sorted(set(out.flatten().tolist()))
        [0.0, 2.0]
    """
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], *([1] * (x.dim() - 1)), dtype=x.dtype,
                       device=x.device).bernoulli_(keep)
    return x / keep * mask
