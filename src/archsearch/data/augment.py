"""Batched tensor augmentations: one vectorised operation per batch, never a Python loop.

Each function takes a batch shaped (N, C, H, W) on any device and returns a new batch on
the same device. Random numbers come from ``generator`` (on its own device, typically the
CPU, so results do not depend on where the batch lives) and are then moved to the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from archsearch.errors import InvalidParameterError

__all__ = ["Augment", "random_crop", "random_hflip", "cutout"]


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pad each image with ``padding`` zeros per side and crop it back at a random offset.

    Args:
        x: batch (N, C, H, W).
        padding: zeros added on each side; the crop shifts by up to this many pixels.
        generator: source of the per-sample offsets.

    Returns:
        The cropped batch, shaped like ``x``.
    """
    _check_batch(x, "random_crop")
    _check_size(padding, "padding", "random_crop")
    if padding == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    top = _randint(2 * padding + 1, n, generator, x.device)
    left = _randint(2 * padding + 1, n, generator, x.device)
    rows = top[:, None] + torch.arange(h, device=x.device)  # (N, H)
    cols = left[:, None] + torch.arange(w, device=x.device)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def random_hflip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image left-right with probability 1/2.

    Args:
        x: batch (N, C, H, W).
        generator: source of the per-sample coin flips.

    Returns:
        The batch with a random subset of images mirrored.
    """
    _check_batch(x, "random_hflip")
    flip = _rand(x.shape[0], generator, x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square centred at a random pixel of each image.

    The centre is uniform over the image; squares near a border are clipped, so fewer
    than ``size * size`` pixels are zeroed there (as in DeVries & Taylor, 2017).

    Args:
        x: batch (N, C, H, W).
        size: side of the square, in pixels.
        generator: source of the per-sample centres.

    Returns:
        The batch with one square zeroed per image, in every channel.
    """
    _check_batch(x, "cutout")
    _check_size(size, "size", "cutout")
    if size == 0:
        return x
    n, _, h, w = x.shape
    rows = _span(_randint(h, n, generator, x.device) - size // 2, size, h)  # (N, H)
    cols = _span(_randint(w, n, generator, x.device) - size // 2, size, w)  # (N, W)
    hole = rows[:, None, :, None] & cols[:, None, None, :]  # (N, 1, H, W)
    return x.masked_fill(hole, 0)


@dataclass(frozen=True)
class Augment:
    """Random crop, then horizontal flip, then cutout, applied to whole batches.

    Attributes:
        crop_padding: padding of the random crop; 0 turns it off.
        hflip: whether to flip a random half of each batch left-right.
        cutout: side of the cutout square; 0 turns it off.

    Example:
        >>> import torch
        >>> augment = Augment(crop_padding=2, hflip=True, cutout=3)
        >>> augment(torch.ones(8, 3, 16, 16), torch.Generator().manual_seed(0)).shape
        torch.Size([8, 3, 16, 16])
        >>> Augment().is_identity
        True
    """

    crop_padding: int = 0
    hflip: bool = False
    cutout: int = 0

    @property
    def is_identity(self) -> bool:
        """True when no augmentation is switched on, so calling returns the input."""
        return self.crop_padding == 0 and not self.hflip and self.cutout == 0

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment the batch ``x`` (N, C, H, W) using random numbers from ``generator``."""
        if self.crop_padding:
            x = random_crop(x, self.crop_padding, generator)
        if self.hflip:
            x = random_hflip(x, generator)
        if self.cutout:
            x = cutout(x, self.cutout, generator)
        return x


def _span(start: torch.Tensor, length: int, extent: int) -> torch.Tensor:
    """(N, extent) mask of positions in [start, start + length), clipped to the image."""
    pos = torch.arange(extent, device=start.device)
    return (pos >= start[:, None]) & (pos < start[:, None] + length)


def _randint(high: int, n: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    source = generator.device if generator is not None else torch.device("cpu")
    return torch.randint(high, (n,), generator=generator, device=source).to(device)


def _rand(n: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    source = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(n, generator=generator, device=source).to(device)


def _check_batch(x: Any, caller: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InvalidParameterError(
            f"The 'x' parameter of {caller} must be a tensor shaped (N, C, H, W). Got {got} instead."
        )


def _check_size(value: Any, name: str, caller: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError(
            f"The {name!r} parameter of {caller} must be an int >= 0. Got {value!r} instead."
        )
