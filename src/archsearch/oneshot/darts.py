"""DARTS: differentiable architecture search (Liu et al., ICLR 2019), first and second order.

Every edge of a supernet mixes all candidate operations with softmax weights of
architecture parameters (alphas). Each step first updates the alphas on a validation
batch (see :class:`~archsearch.oneshot.architect.Architect`), then the weights on a
training batch; after each epoch the discrete architecture the alphas select is derived.

The search writes to the same store as multi-trial searches: one trial row per epoch,
whose architecture is the one derived at that epoch's end and whose values hold the
epoch's losses, accuracies and collapse signals. The alphas of the epoch go with the row,
and the supernet and optimiser state with it in the same transaction, so a search killed
anywhere resumes from its last finished epoch and continues exactly as it would have.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from archsearch._utils.seeding import torch_generator, torch_seed_for
from archsearch._utils.validation import check_float, check_int
from archsearch.data import Augment, Task
from archsearch.errors import InvalidParameterError, StoreError
from archsearch.experiment import open_experiment
from archsearch.oneshot.architect import Architect
from archsearch.oneshot.collapse import (
    dominant_eigenvalue,
    op_shares,
    random_smoothing,
    smoothing_epsilon,
)
from archsearch.spaces.base import SearchSpace
from archsearch.storage import Store, open_store
from archsearch.training import resolve_device
from archsearch.types import Architecture, FrozenTrial, TrialState

__all__ = ["DartsConfig", "DartsSearch", "epoch_base", "epoch_number"]


def epoch_base(trials: Sequence[FrozenTrial]) -> int:
    """What a DARTS run's rows count their ``epoch`` value from: 1, or 0 for a run whose
    rows were written before epochs were counted from 1 (its first row holds epoch 0)."""
    return 0 if any(t.values.get("epoch") == 0.0 for t in trials) else 1


def epoch_number(trial: FrozenTrial, base: int = 1) -> int:
    """The epoch of a DARTS row as it is shown, counted from 1 (``base``: see epoch_base)."""
    value = trial.values.get("epoch")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return trial.number + 1
    return int(value) + 1 - base

EpochCallback = Callable[["DartsSearch", FrozenTrial], None]
StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class DartsConfig:
    """Settings of a DARTS search; the defaults are the paper's (CIFAR-10, 50 epochs).

    Attributes:
        order: 1 (the alphas' gradient at the current weights) or 2 (at the weights after
            one virtual SGD step, with the finite-difference Hessian-vector product).
        epochs: passes over the training split.
        batch_size: batch of both the weight and the architecture step.
        lr, lr_min: the weights' SGD learning rate, cosine-annealed per epoch to lr_min.
        momentum, weight_decay, grad_clip: the weights' SGD momentum, L2 decay, and the
            norm their gradient is clipped to.
        arch_lr, arch_beta1, arch_beta2, arch_weight_decay: Adam for the alphas.
        hvp_r: the finite-difference scale of the second-order term (R = r / ||v||).
        perturb: ``"none"`` or ``"random"`` (SDARTS-RS, the collapse remedy: uniform noise
            on the mixing weights in the weight step, up to ``epsilon``).
        epsilon: the largest noise of ``perturb="random"``, reached at the last epoch.
        hessian_every: record the dominant eigenvalue of the validation Hessian in the
            alphas every this many epochs (0: never).
        hessian_iters: power-iteration steps per eigenvalue.
        channels, layers: supernet size of the ``darts`` space (DARTS searches with 16
            channels and 8 cells); ``nb201`` takes its size from the space.
    """

    order: Literal[1, 2] = 1
    epochs: int = 50
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    arch_lr: float = 3e-4
    arch_beta1: float = 0.5
    arch_beta2: float = 0.999
    arch_weight_decay: float = 1e-3
    hvp_r: float = 1e-2
    perturb: Literal["none", "random"] = "none"
    epsilon: float = 0.3
    hessian_every: int = 1
    hessian_iters: int = 20
    channels: int | None = None
    layers: int | None = None

    def check(self) -> None:
        """Raise InvalidParameterError naming the first bad setting."""
        owner = "DartsConfig"
        if self.order not in (1, 2) or isinstance(self.order, bool):
            raise InvalidParameterError(f"DARTS order must be 1 or 2. Got {self.order!r}.")
        if self.perturb not in ("none", "random"):
            raise InvalidParameterError(
                f"DARTS perturb must be 'none' or 'random'. Got {self.perturb!r}.")
        check_int(owner, "epochs", self.epochs, 1)
        check_int(owner, "batch_size", self.batch_size, 1)
        check_int(owner, "hessian_every", self.hessian_every, 0)
        check_int(owner, "hessian_iters", self.hessian_iters, 1)
        for name in ("lr", "arch_lr", "hvp_r"):
            check_float(owner, name, getattr(self, name), 0.0, low_open=True)
        for name in ("lr_min", "momentum", "weight_decay", "grad_clip", "arch_weight_decay",
                     "epsilon"):
            check_float(owner, name, getattr(self, name), 0.0)
        for name in ("arch_beta1", "arch_beta2"):
            check_float(owner, name, getattr(self, name), 0.0, 1.0)
            if getattr(self, name) == 1.0:
                raise InvalidParameterError(f"DARTS {name} must be below 1. Got 1.0.")
        for name in ("channels", "layers"):
            if getattr(self, name) is not None:
                check_int(owner, name, getattr(self, name), 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lr_at(self, epoch: int) -> float:
        """The weights' learning rate in ``epoch`` (0-based): cosine from lr to lr_min."""
        cos = (1 + math.cos(math.pi * epoch / self.epochs)) / 2
        return self.lr_min + (self.lr - self.lr_min) * cos


def build_supernet(space: SearchSpace, task: Task, config: DartsConfig) -> nn.Module:
    """The supernet of ``space`` for ``task``, at the size ``config`` asks for."""
    make = getattr(space, "supernet", None)
    if make is None:
        raise InvalidParameterError(f"Space {space.name!r} has no supernet; DARTS searches "
                                    "'nb201' and 'darts'.")
    if space.name == "darts":
        net = make(task.input_shape, task.n_classes, channels=config.channels or 16,
                   layers=config.layers or 8)
    elif config.channels is not None or config.layers is not None:
        raise InvalidParameterError(
            f"DARTS channels/layers size the darts supernet; the {space.name} supernet takes "
            "its size from the space (e.g. --channels and --cells).")
    else:
        net = make(task.input_shape, task.n_classes)
    return cast(nn.Module, net)


class DartsSearch:
    """A DARTS search recorded in a store; create with :meth:`create`, then :meth:`run`.

    Example:
        >>> import archsearch
        >>> from archsearch.data import load_task
        >>> task = load_task("digits", n_train=64, seed=0)
        >>> space = archsearch.create_space("nb201", channels=2, cells_per_stage=1)
        >>> search = DartsSearch.create("doc", space, task, DartsConfig(epochs=1, batch_size=32),
        ...                             store=":memory:")
        >>> search.run()
        >>> [t.values["epoch"] for t in search.epochs()]
        [1.0]
        >>> search.result().space
        'nb201'
    """

    def __init__(self, name: str, space: SearchSpace, task: Task, config: DartsConfig,
                 store: Store, experiment_id: int, seed: int, augment: Augment | None,
                 device: torch.device) -> None:
        self.name, self.space, self.task, self.config = name, space, task, config
        self.store, self.experiment_id, self.seed = store, experiment_id, seed
        self.augment = None if augment is None or augment.is_identity else augment
        self.device = device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed_for(seed, 0))
            self.net = build_supernet(space, task, config).to(device)
        # convolutions, their backward and batch norms run about twice as fast in
        # channels-last layout on the CPU (measured on a DARTS step)
        self.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.weights = list(self.net.weights())  # type: ignore[operator]
        self.w_opt = torch.optim.SGD(self.weights, lr=config.lr, momentum=config.momentum,
                                     weight_decay=config.weight_decay)
        self.a_opt = torch.optim.Adam(self.net.arch_parameters(),  # type: ignore[operator]
                                      lr=config.arch_lr,
                                      betas=(config.arch_beta1, config.arch_beta2),
                                      weight_decay=config.arch_weight_decay)
        self.architect = Architect(self.net, self.w_opt, self.a_opt, config.order, config.hvp_r)
        self.next_epoch = 0  # 0-based here; rows and messages count from 1
        self._epoch_base = 1
        self._hessian_vec: Tensor | None = None
        self._data = {k: _channels_last(getattr(task, k).to(device))
                      for k in ("x_train", "y_train", "x_val", "y_val")}

    # --- creation and resume ------------------------------------------------------
    @classmethod
    def create(cls, name: str, space: SearchSpace, task: Task, config: DartsConfig | None = None,
               *, augment: Augment | None = None, store: str | Store = "runs.db", seed: int = 0,
               if_exists: Literal["error", "resume"] = "error", device: str = "auto",
               extra_fingerprint: Mapping[str, Any] | None = None) -> DartsSearch:
        """Create a search, or resume the one of that name from its last finished epoch.

        Args:
            name: the experiment's name in the store.
            space: ``nb201`` or ``darts`` (a space with a supernet).
            task: the data; weights train on its train split, alphas on its val split.
            config: the DARTS settings (default: the paper's).
            augment: batch augmentation of both splits' batches.
            store: a store or the path of an SQLite file.
            seed: the seed of the supernet's initialisation and of every batch order.
            if_exists: ``"resume"`` continues an experiment of that name, provided its
                identity settings match; ``"error"`` refuses it.
            device: ``"auto"``, ``"cpu"``, ``"cuda"``, ... (not part of the identity).
            extra_fingerprint: further settings that define the run (e.g. the dataset).
        """
        config = config or DartsConfig()
        config.check()
        check_int("DartsSearch", "seed", seed, 0)
        if if_exists not in ("error", "resume"):
            raise InvalidParameterError("The 'if_exists' parameter of DartsSearch.create must "
                                        f"be 'error' or 'resume'. Got {if_exists!r} instead.")
        build_supernet(space, task, DartsConfig(channels=1, layers=1) if space.name == "darts"
                       else config)  # a bad space or size fails before the store is touched
        db = open_store(store)
        fingerprint = {
            "space": {"name": space.name, **space.config()},
            "strategy": {"name": "darts", **config.to_dict()},
            "augment": None if augment is None else asdict(augment),
            "seed": seed, **(extra_fingerprint or {}),
        }
        experiment_id, resumed = open_experiment(db, name, fingerprint, if_exists)
        search = cls(name, space, task, config, db, experiment_id, seed, augment,
                     resolve_device(device))
        if resumed:
            search._restore()
        return search

    def _restore(self) -> None:
        self.store.mark_interrupted(self.experiment_id)
        self._epoch_base = epoch_base(self.store.trials(self.experiment_id))  # as it began
        saved = self.store.experiment_state(self.experiment_id)
        if saved is None:
            return
        epoch, blob = saved
        try:
            state = torch.load(io.BytesIO(blob), map_location=self.device, weights_only=True)
            self.net.load_state_dict(state["net"])
            self.w_opt.load_state_dict(state["w_opt"])
            self.a_opt.load_state_dict(state["a_opt"])
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StoreError(f"The saved DARTS state of {self.name!r} cannot be loaded: "
                             f"{first}") from None
        self._hessian_vec = state.get("hessian_vec")
        self.next_epoch = int(epoch) + 1

    # --- the loop -----------------------------------------------------------------
    def run(self, *, timeout: float | None = None, callbacks: Sequence[EpochCallback] = (),
            on_step: StepCallback | None = None) -> None:
        """Run the remaining epochs, or until ``timeout`` seconds have passed.

        Args:
            timeout: wall-clock seconds for this call, checked between epochs.
            callbacks: called with (search, trial) after each epoch is stored.
            on_step: called with (epoch, step) after each step (e.g. a progress bar).

        A loss that stops being finite records the epoch as failed and ends the search;
        the result stays the last finished epoch.
        """
        if timeout is not None:
            check_float("DartsSearch.run", "timeout", timeout, 0.0, low_open=True)
        start = time.monotonic()
        while self.next_epoch < self.config.epochs:
            if timeout is not None and time.monotonic() - start >= timeout:
                return
            trial = self._run_epoch(self.next_epoch, on_step)
            for callback in callbacks:
                callback(self, trial)
            if trial.state is not TrialState.COMPLETE:
                return
            self.next_epoch += 1

    def _run_epoch(self, epoch: int, on_step: StepCallback | None) -> FrozenTrial:
        cfg, net, data = self.config, self.net, self._data
        began = time.monotonic()
        before = self.space.derive(net)  # type: ignore[attr-defined]
        gen = torch_generator(torch_seed_for(self.seed, 1, epoch))
        for group in self.w_opt.param_groups:
            group["lr"] = cfg.lr_at(epoch)
        epsilon = smoothing_epsilon(epoch, cfg.epochs, high=cfg.epsilon)
        n, n_val = len(data["y_train"]), len(data["y_val"])
        order = torch.randperm(n, generator=gen).to(self.device)
        val_order = torch.randperm(n_val, generator=gen).to(self.device)
        val_at = 0
        sums = torch.zeros(2, dtype=torch.float64, device=self.device)
        arch_loss = grad_norm = 0.0
        steps = math.ceil(n / cfg.batch_size)
        net.train()
        for step in range(steps):
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            if val_at + len(idx) > n_val:
                val_order, val_at = torch.randperm(n_val, generator=gen).to(self.device), 0
            vidx = val_order[val_at:val_at + len(idx)]
            val_at += len(idx)
            xt, yt = self._batch("train", idx, gen)
            xv, yv = self._batch("val", vidx, gen)
            arch = self.architect.step(xt, yt, xv, yv)
            mixing = (random_smoothing(net.mixing_weights(), epsilon, gen)  # type: ignore[operator]
                      if cfg.perturb == "random" else None)
            logits = net(xt) if mixing is None else net(xt, mixing)
            loss = F.cross_entropy(logits, yt)
            self.w_opt.zero_grad(set_to_none=True)
            loss.backward(inputs=self.weights)  # type: ignore[no-untyped-call]
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.weights, cfg.grad_clip)
            self.w_opt.step()
            with torch.no_grad():
                sums += torch.stack([loss.detach().double() * len(yt),
                                     (logits.argmax(1) == yt).sum().double()])
            arch_loss += arch["arch_loss"] * len(yv)
            grad_norm += arch["arch_grad_norm"]
            if on_step is not None:
                on_step(epoch, step)
        train_loss, train_correct = sums.tolist()
        values = {"epoch": float(epoch + self._epoch_base), "lr": cfg.lr_at(epoch),
                  "train_loss": train_loss / n, "train_accuracy": train_correct / n,
                  "arch_loss": arch_loss / n, "arch_grad_norm": grad_norm / steps}
        finite = all(bool(torch.isfinite(a).all())
                     for a in net.arch_parameters())  # type: ignore[operator]
        if not finite or not all(math.isfinite(v) for v in values.values()):
            trial = self.store.start_trial(self.experiment_id, before)  # the epoch's start
            return self.store.finish_trial(
                trial.id, TrialState.FAILED, values,
                f"the loss became non-finite in epoch {epoch + 1} "
                f"(train {values['train_loss']:.4g}, "
                f"architecture {values['arch_loss']:.4g}); try a lower lr or arch_lr")
        derived = self.space.derive(net)  # type: ignore[attr-defined]
        values["val_loss"], values["val_accuracy"] = self._evaluate()
        values.update(op_shares(self.space, derived))
        values["hessian_ev"] = self._eigenvalue(epoch)
        values["epsilon"] = epsilon if cfg.perturb == "random" else 0.0
        values["epoch_seconds"] = time.monotonic() - began
        alphas = {k: a.detach().cpu().tolist()
                  for k, a in net.named_arch_parameters().items()}  # type: ignore[operator]
        trial = self.store.start_trial(self.experiment_id, derived)
        return self.store.finish_trial(trial.id, TrialState.COMPLETE, values,
                                       artifacts={"alphas": alphas},
                                       experiment_state=(epoch, self._state_blob(epoch)))

    def _batch(self, split: str, idx: Tensor, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        x, y = self._data[f"x_{split}"][idx], self._data[f"y_{split}"][idx]
        if self.augment is not None:
            x = _channels_last(self.augment(x, gen))
        return x, y

    @torch.no_grad()
    def _evaluate(self, batch_size: int = 512) -> tuple[float, float]:
        """The supernet's loss and accuracy on the whole validation split."""
        x, y = self._data["x_val"], self._data["y_val"]
        self.net.eval()
        loss = correct = 0.0
        for start in range(0, len(y), batch_size):
            logits = self.net(x[start:start + batch_size])
            target = y[start:start + batch_size]
            loss += float(F.cross_entropy(logits, target, reduction="sum"))
            correct += float((logits.argmax(1) == target).sum())
        self.net.train()
        return loss / max(1, len(y)), correct / max(1, len(y))

    def _eigenvalue(self, epoch: int) -> float:
        every = self.config.hessian_every
        if not every or (epoch + 1) % every:
            return math.nan
        k = min(self.config.batch_size, len(self._data["y_val"]))
        lam, self._hessian_vec = dominant_eigenvalue(
            self.net, self._data["x_val"][:k], self._data["y_val"][:k],
            iters=self.config.hessian_iters, v0=self._hessian_vec)
        return lam

    def _state_blob(self, epoch: int) -> bytes:
        buffer = io.BytesIO()
        torch.save({"net": self.net.state_dict(), "w_opt": self.w_opt.state_dict(),
                    "a_opt": self.a_opt.state_dict(), "hessian_vec": self._hessian_vec,
                    "epoch": epoch}, buffer)
        return buffer.getvalue()

    # --- results --------------------------------------------------------------------
    def epochs(self) -> list[FrozenTrial]:
        """The finished epochs, in order (one complete trial each)."""
        return self.store.trials(self.experiment_id, [TrialState.COMPLETE])

    def alphas(self, trial: FrozenTrial) -> dict[str, list[list[float]]]:
        """The architecture parameters (logits) stored with an epoch's trial."""
        return dict(self.store.artifacts(trial.id).get("alphas", {}))

    def result(self) -> Architecture:
        """The architecture derived at the last finished epoch.

        The last, not the one of the best supernet accuracy: the supernet's accuracy does
        not rank the derived cells.
        """
        done = self.epochs()
        if not done:
            raise InvalidParameterError(f"DARTS search {self.name!r} has no finished epoch yet.")
        return self.space.parse(done[-1].arch)


def _channels_last(x: Tensor) -> Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
