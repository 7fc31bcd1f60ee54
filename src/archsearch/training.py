"""Training and evaluation loops shared by partial training and final training.

Data stays as tensors on the target device; batches are index slices of a seeded
permutation and augmentation runs on whole batches.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from archsearch._utils.log import logger
from archsearch._utils.validation import check_float, check_int
from archsearch.errors import InvalidParameterError, TrialFailed

__all__ = ["TrainConfig", "WeightAverage", "train_model", "evaluate_model", "resolve_device"]


@dataclass(frozen=True)
class TrainConfig:
    """SGD with momentum and a cosine schedule, as the NAS-Bench-201 recipe uses.

    The last three settings are the final-training recipe of NASNet and DARTS, all off by
    default: an auxiliary classifier's loss, drop-path rising linearly over the epochs, and
    an exponential moving average of the weights.

    Args:
        n_epochs: passes over the training data.
        batch_size: examples per step.
        lr: initial learning rate, annealed to 0 by a cosine schedule over all steps.
        momentum: SGD momentum (Nesterov).
        weight_decay: L2 penalty.
        label_smoothing: cross-entropy label smoothing.
        grad_clip: clip the gradient norm to this (0 disables).
        aux_weight: weight of the auxiliary head's loss (needs a network with one, e.g. the
            darts space with ``auxiliary=True``); 0 disables.
        drop_path: drop-path probability reached in the last epoch (it starts at 0 and
            rises linearly, as in DARTS; needs a cell network); 0 disables.
        ema_decay: decay of an exponential moving average of the weights (e.g. 0.999),
            warmed up as ``min(decay, (1 + step) / (10 + step))``; the model ends holding
            the averaged weights. 0 disables.
    """

    n_epochs: int = 5
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    grad_clip: float = 5.0
    aux_weight: float = 0.0
    drop_path: float = 0.0
    ema_decay: float = 0.0

    def check(self) -> None:
        """Raise InvalidParameterError for an out-of-range setting."""
        check_int("TrainConfig", "n_epochs", self.n_epochs, 1)
        check_int("TrainConfig", "batch_size", self.batch_size, 1)
        check_float("TrainConfig", "lr", self.lr, 0.0, low_open=True)
        check_float("TrainConfig", "momentum", self.momentum, 0.0, 1.0)
        check_float("TrainConfig", "weight_decay", self.weight_decay, 0.0)
        check_float("TrainConfig", "label_smoothing", self.label_smoothing, 0.0, 1.0)
        check_float("TrainConfig", "grad_clip", self.grad_clip, 0.0)
        check_float("TrainConfig", "aux_weight", self.aux_weight, 0.0)
        check_float("TrainConfig", "drop_path", self.drop_path, 0.0, 1.0, high_open=True)
        check_float("TrainConfig", "ema_decay", self.ema_decay, 0.0, 1.0, high_open=True)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict; the recipe extras only when on, so the identity of
        a search or table made before they existed stays the same."""
        data = asdict(self)
        for key in _EXTRAS:
            if data[key] == 0:
                del data[key]
        return data


_EXTRAS = ("aux_weight", "drop_path", "ema_decay")


class WeightAverage:
    """An exponential moving average of a model's parameters and float buffers.

    Integer buffers (batch-norm step counts) are copied. ``state_dict()`` and
    ``load_state_dict()`` carry the averaged weights and the step count.

    Example:
        >>> model = nn.Linear(2, 1)
        >>> ema = WeightAverage(model, decay=0.9)
        >>> with torch.no_grad():
        ...     _ = model.weight.add_(1.0)
        >>> ema.update(model)
        >>> bool((ema.averaged["weight"] < model.weight).all())
        True
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.steps = 0
        self.averaged = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards the model's current weights."""
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        mine, theirs = [], []
        for key, value in model.state_dict().items():
            if value.dtype.is_floating_point:
                mine.append(self.averaged[key])
                theirs.append(value)
            else:
                self.averaged[key].copy_(value)
        torch._foreach_lerp_(mine, theirs, 1.0 - decay)

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "averaged": self.averaged}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        for key, value in state["averaged"].items():
            self.averaged[key].copy_(value)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when available, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidParameterError(f"Unknown device {device!r}; use auto, cpu, cuda, cuda:1, "
                                    "mps, ...") from None
    if resolved.type == "meta":
        raise InvalidParameterError("Device 'meta' holds no data: nothing can be trained or timed "
                                    "on it. Use cpu, cuda, ...")
    if resolved.type != "cpu":
        try:  # an absent device or backend fails here, not deep inside a model
            torch.empty(0, device=resolved)
        except (RuntimeError, AssertionError, ValueError) as err:
            reason = " ".join(str(err).split())[:120]
            raise InvalidParameterError(f"Device {device!r} is not available here: {reason}") from None
    return resolved


EpochCallback = Callable[[int, float], None]
_LOG_EVERY_S = 10.0  # with debug logging, a line about every this many seconds of an epoch


def train_model(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    *,
    generator: torch.Generator,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    on_epoch: EpochCallback | None = None,
    save_state: Callable[[dict[str, Any]], None] | None = None,
    resume: dict[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place; returns one record per epoch.

    Each record holds ``epoch`` (1-based), ``loss`` (mean training loss), ``train_accuracy``
    (on the augmented batches, as seen in training), ``lr`` (at the end of the epoch) and
    ``seconds`` (since the start, a resumed training included).

    ``x`` and ``y`` must already be on the model's device. ``on_epoch(epoch, loss)`` runs
    after each epoch. Raises TrialFailed when the loss stops being finite.

    ``save_state(state)`` receives, after each epoch, everything needed to continue: the
    weights, optimiser, schedule, weight average and random states, and the records so far
    (tensors and numbers only, so ``torch.load(..., weights_only=True)`` reads it back).
    Passing such a state as ``resume`` continues from it exactly as if the training had
    not stopped.
    """
    n = len(y)
    _check_recipe(model, config)
    _channels_last(model)
    steps_per_epoch = max(1, math.ceil(n / config.batch_size))
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum,
        weight_decay=config.weight_decay, nesterov=config.momentum > 0,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.n_epochs * steps_per_epoch
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    history: list[dict[str, float]] = []
    first, seconds_before = 1, 0.0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        generator.set_state(resume["generator"])
        if "torch_rng" in resume:  # drop-path and dropout draw from the global generator
            torch.set_rng_state(resume["torch_rng"])
        if average is not None:
            average.load_state_dict(resume["average"])
        history = [{k: float(v) for k, v in record.items()} for record in resume["history"]]
        first = int(resume["epoch"]) + 1
        seconds_before = history[-1]["seconds"] if history else 0.0
    start = last_log = time.perf_counter()
    for epoch in range(first, config.n_epochs + 1):
        model.train()
        if config.drop_path > 0:
            model.drop_path_prob = config.drop_path * (epoch - 1) / config.n_epochs  # type: ignore[assignment]
        order = torch.randperm(n, generator=generator).to(x.device)
        total = torch.zeros((), device=x.device)
        correct = torch.zeros((), device=x.device, dtype=torch.long)
        for step in range(steps_per_epoch):
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            xb = x[idx] if augment is None else augment(x[idx], generator)
            xb = xb.contiguous(memory_format=torch.channels_last)
            yb = y[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            if config.aux_weight > 0:
                loss = loss + config.aux_weight * loss_fn(model.aux_logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            schedule.step()
            if average is not None:
                average.update(model)
            total += loss.detach()
            correct += (logits.detach().argmax(1) == yb).sum()
            if logger.isEnabledFor(logging.DEBUG) and time.perf_counter() - last_log > _LOG_EVERY_S:
                last_log = time.perf_counter()
                logger.debug("epoch %d of %d: step %d of %d (%.1f s)", epoch, config.n_epochs,
                             step + 1, steps_per_epoch, last_log - start)
        mean_loss = float(total) / steps_per_epoch
        if not math.isfinite(mean_loss):
            raise TrialFailed(f"training loss became {mean_loss} in epoch {epoch}")
        history.append({"epoch": epoch, "loss": mean_loss, "train_accuracy": float(correct) / n,
                        "lr": float(optimizer.param_groups[0]["lr"]),
                        "seconds": seconds_before + time.perf_counter() - start})
        if save_state is not None:
            state = {"epoch": epoch, "history": [dict(r) for r in history],
                     "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "schedule": schedule.state_dict(), "generator": generator.get_state(),
                     "torch_rng": torch.get_rng_state()}
            if average is not None:
                state["average"] = average.state_dict()
            save_state(state)
        if on_epoch is not None:
            on_epoch(epoch, mean_loss)
    if average is not None:
        model.load_state_dict(average.averaged)
    return history


def _check_recipe(model: nn.Module, config: TrainConfig) -> None:
    if config.aux_weight > 0 and getattr(model, "auxiliary_head", None) is None:
        raise InvalidParameterError(
            "aux_weight needs a network with an auxiliary head (the darts space with "
            "auxiliary=True); this one has none.")
    if config.drop_path > 0 and not hasattr(model, "drop_path_prob"):
        raise InvalidParameterError(
            f"drop_path needs a cell network (nb201 or darts spaces); {type(model).__name__} "
            "has no drop-path.")


@torch.no_grad()
def evaluate_model(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (fraction in [0, 1]) of ``model`` on (x, y)."""
    model.eval()
    _channels_last(model)
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    for start in range(0, len(y), batch_size):
        logits = model(x[start:start + batch_size].contiguous(memory_format=torch.channels_last))
        target = y[start:start + batch_size]
        loss_sum += nn.functional.cross_entropy(logits, target, reduction="sum")
        correct += (logits.argmax(1) == target).sum()
    n = max(1, len(y))
    return float(loss_sum) / n, float(correct) / n


def _channels_last(model: nn.Module) -> None:
    """Convolutions run faster in channels-last layout (measured ~20 % on the CPU)."""
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
