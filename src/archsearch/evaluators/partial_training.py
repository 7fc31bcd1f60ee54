"""Score an architecture by training it briefly and measuring it on held-out data."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch

from archsearch._utils.log import logger
from archsearch._utils.seeding import torch_generator
from archsearch.data.augment import Augment
from archsearch.data.task import Task
from archsearch.errors import TrialPruned
from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.evaluators.cost import count_flops, count_params, measure_latency_ms
from archsearch.training import TrainConfig, evaluate_model, resolve_device, train_model
from archsearch.types import Architecture, Objective

__all__ = ["PartialTraining"]


class PartialTraining(Evaluator):
    """Train for a few epochs on the training split; score on the validation split.

    Metrics: ``val_accuracy`` (fraction), ``val_loss``, ``train_loss``, ``params``,
    ``flops`` (one forward at batch 1), ``train_seconds``, and with ``measure_latency``
    ``latency_ms`` (median forward time at batch 1 on the evaluation device). Deterministic under the trial
    seed on the CPU. A loss that stops being finite fails the trial. After each epoch it
    reports ``val_accuracy`` and stops (``TrialPruned``) when the search's pruner says so.

    Args:
        task: the data.
        train: the training recipe (epochs, batch size, learning rate, ...).
        augment: batch augmentation applied to training batches.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ...

    Example:
        >>> import archsearch, numpy as np
        >>> from archsearch.data import load_task
        >>> from archsearch.training import TrainConfig
        >>> evaluator = PartialTraining(load_task("digits"), TrainConfig(n_epochs=1))
        >>> evaluator.setup(archsearch.create_space("nb201", channels=4, cells_per_stage=1))
        >>> arch = evaluator.space.sample(np.random.default_rng(0))
        >>> metrics = evaluator.evaluate(arch, archsearch.TrialContext(0, seed=0))
        >>> 0.0 <= metrics["val_accuracy"] <= 1.0
        True
    """

    name = "train"
    objectives = (Objective("val_accuracy", "maximize"),)

    def __init__(self, task: Task, train: TrainConfig | None = None,
                 augment: Augment | None = None, device: str = "auto",
                 measure_latency: bool = False) -> None:
        self.task = task
        self.train = train or TrainConfig()
        self.augment = augment or Augment()
        self.device = device
        self.measure_latency = measure_latency

    def setup(self, space: Any) -> None:
        self.train.check()
        super().setup(space)
        self._device = resolve_device(self.device)
        logger.debug("partial training: the task's tensors go to %s", self._device)
        self._data = [t.to(self._device) for t in (
            self.task.x_train, self.task.y_train, self.task.x_val, self.task.y_val)]

    def evaluate(self, arch: Architecture, ctx: TrialContext) -> dict[str, float]:
        torch.manual_seed(ctx.seed)
        x_train, y_train, x_val, y_val = self._data
        start = time.perf_counter()
        model = self.space.build(arch, self.task.input_shape, self.task.n_classes).to(self._device)
        metrics: dict[str, float] = {
            "params": count_params(model),
            "flops": count_flops(model, self.task.input_shape),
        }
        logger.info("trial %d: built the network in %.1f s (%d parameters, %d FLOPs); training "
                    "%d epochs on %d images (%s)", ctx.number, time.perf_counter() - start,
                    metrics["params"], metrics["flops"], self.train.n_epochs, len(y_train),
                    self._device)

        def on_epoch(epoch: int, loss: float) -> None:
            metrics["val_loss"], metrics["val_accuracy"] = evaluate_model(model, x_val, y_val)
            logger.info("trial %d: epoch %d of %d: training loss %.4f, val_accuracy %.4f (%.1f s)",
                        ctx.number, epoch, self.train.n_epochs, loss, metrics["val_accuracy"],
                        time.perf_counter() - start)
            ctx.report(epoch, metrics["val_accuracy"])
            if ctx.should_prune() and epoch < self.train.n_epochs:  # the last one is paid
                raise TrialPruned(f"stopped after epoch {epoch} of {self.train.n_epochs} "
                                  f"(val_accuracy {metrics['val_accuracy']:.4f})")

        start = time.perf_counter()
        history = train_model(
            model, x_train, y_train, self.train, generator=torch_generator(ctx.seed),
            augment=None if self.augment.is_identity else self.augment, on_epoch=on_epoch,
        )
        metrics["train_seconds"] = time.perf_counter() - start
        metrics["train_loss"] = history[-1]["loss"]
        if self.measure_latency:
            metrics["latency_ms"] = measure_latency_ms(model, self.task.input_shape)
        return metrics

    def max_epochs(self) -> int:
        return self.train.n_epochs

    def report_steps(self) -> list[int]:
        return list(range(1, self.train.n_epochs + 1))

    def config(self) -> dict[str, Any]:
        task = self.task
        return {
            "name": self.name,
            "task": {"name": task.name, "train": len(task.y_train), "val": len(task.y_val),
                     "input_shape": list(task.input_shape), "n_classes": task.n_classes},
            "train": self.train.to_dict(),
            "augment": dataclasses.asdict(self.augment),
            "measure_latency": self.measure_latency,
        }
