"""What an architecture costs: parameters, FLOPs, and latency measured on this device."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from archsearch.evaluators.base import Evaluator
from archsearch.training import resolve_device
from archsearch.types import Architecture, Objective

__all__ = ["Cost", "count_params", "count_flops", "measure_latency_ms"]


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
    n_warmup: int = 5, n_repeat: int = 30, max_seconds: float | None = None,
) -> float:
    """Median wall-clock milliseconds of one forward pass on the model's device.

    With ``max_seconds``, warm-up and timed calls stop once that many seconds have passed
    since the first call (at least one call of each still runs when ``n_warmup > 0``), so a
    slow network costs about ``max_seconds`` plus one or two calls, not ``n_repeat`` calls.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    x = torch.randn(batch_size, *input_shape, device=device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    began = time.perf_counter()

    def out_of_time() -> bool:
        return max_seconds is not None and time.perf_counter() - began >= max_seconds
    for i in range(n_warmup):
        if i and out_of_time():
            break
        model(x)
        sync()
    times: list[float] = []
    for _ in range(n_repeat):
        if times and out_of_time():
            break
        start = time.perf_counter()
        model(x)
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    model.train(was_training)
    return statistics.median(times)


class Cost(Evaluator):
    """What an architecture costs on this device: parameters, FLOPs and measured latency.

    Metrics: ``params``, ``flops`` (batch 1), ``latency_ms`` (median at batch 1) and
    ``latency_ms_b{N}`` for each further batch size. The objective is the batch-1 latency,
    minimised; compose it with an accuracy evaluator through
    :class:`~archsearch.evaluators.Composite` for accuracy-latency searches.

    Args:
        input_shape: (C, H, W) of one input.
        n_classes: outputs of the built networks.
        batch_sizes: batch sizes at which latency is measured (1 first).
        device: where latency is measured.
        n_repeat: timed repeats (after warm-up) whose median is reported at batch 1; a
            third as many (at least 3, at most ``n_repeat``) at larger batches.
        max_seconds: if given, each batch size's measurement stops after about this many
            seconds (see :func:`measure_latency_ms`).

    Example:
        >>> import archsearch, numpy as np
        >>> space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
        >>> cost = Cost((3, 32, 32), 10, batch_sizes=(1,), n_repeat=3)
        >>> cost.setup(space)
        >>> sorted(cost.evaluate(space.sample(np.random.default_rng(0)), None))
        ['flops', 'latency_ms', 'params']
    """

    name = "cost"
    objectives = (Objective("latency_ms", "minimize"),)

    def __init__(self, input_shape: Sequence[int], n_classes: int,
                 batch_sizes: Sequence[int] = (1, 32), device: str = "cpu",
                 n_repeat: int = 30, max_seconds: float | None = None) -> None:
        self.input_shape = input_shape
        self.n_classes = n_classes
        self.batch_sizes = batch_sizes
        self.device = device
        self.n_repeat = n_repeat
        self.max_seconds = max_seconds

    def evaluate(self, arch: Architecture, ctx: Any) -> dict[str, float]:
        shape = tuple(self.input_shape)
        model = self.space.build(arch, shape, self.n_classes).to(resolve_device(self.device))
        metrics: dict[str, float] = {"params": count_params(model),
                                     "flops": count_flops(model, shape)}
        for batch in self.batch_sizes:
            name = "latency_ms" if batch == 1 else f"latency_ms_b{batch}"
            repeats = self.n_repeat if batch == 1 else min(self.n_repeat, max(3, self.n_repeat // 3))
            metrics[name] = measure_latency_ms(model, shape, batch_size=batch, n_warmup=2,
                                               n_repeat=repeats, max_seconds=self.max_seconds)
        return metrics

    def config(self) -> dict[str, Any]:
        config = {"name": self.name, "input_shape": list(self.input_shape),
                  "n_classes": self.n_classes, "batch_sizes": list(self.batch_sizes),
                  "device": self.device}
        if self.max_seconds is not None:  # an older run's settings stay as they were
            config["max_seconds"] = self.max_seconds
        return config
