"""What an architecture costs: parameters, FLOPs, and latency measured on this device."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_params", "count_flops", "measure_latency_ms"]


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass at batch 1, counted by torch's own FLOP counter.

    One multiply-add counts as two FLOPs (torch's convention).
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, *input_shape, device=device))
    model.train(was_training)
    return int(counter.get_total_flops())


@torch.no_grad()
def measure_latency_ms(
    model: nn.Module, input_shape: Sequence[int], *, batch_size: int = 1,
    n_warmup: int = 5, n_repeat: int = 30,
) -> float:
    """Median wall-clock milliseconds of one forward pass on the model's device."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    x = torch.randn(batch_size, *input_shape, device=device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    for _ in range(n_warmup):
        model(x)
    sync()
    times = []
    for _ in range(n_repeat):
        start = time.perf_counter()
        model(x)
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    model.train(was_training)
    return statistics.median(times)
