"""Seeds derived from (seed, trial number), so each trial's randomness is reproducible."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["rng_for", "torch_seed_for", "torch_generator"]


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """A numpy generator for ``seed`` and a stream (e.g. the trial number)."""
    return np.random.default_rng([int(seed), *map(int, stream)])


def torch_seed_for(seed: int, *stream: int) -> int:
    """A 63-bit torch seed derived from ``seed`` and a stream."""
    return int(rng_for(seed, *stream, 0x7A).integers(2**63 - 1))


def torch_generator(seed: int) -> torch.Generator:
    """A CPU torch generator seeded with ``seed``."""
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return gen
