"""``archsearch search --strategy darts[:KEY=VALUE...]``: a one-shot search into a run directory.

It shares the run directory of every search (``store.db``, ``config.json``, ``best.json``),
``--resume`` and ``--timeout`` (checked between epochs), the space, data and training
options, and ``show``/``train --run-dir``. Training options set the weights' side of the
bilevel problem: ``--epochs``, ``--batch-size``, ``--lr`` (cosine-annealed) and
``--weight-decay``; ``--val-fraction`` is the share of the data the alphas learn on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from archsearch.cli import _common
from archsearch.errors import InvalidParameterError
from archsearch.oneshot import DartsConfig, DartsSearch, epoch_base, epoch_number
from archsearch.strategies import parse_spec
from archsearch.types import FrozenTrial

# The paper's settings where they differ from the multi-trial defaults; val_fraction 0.5
# is the reference's train_portion.
DARTS_DEFAULTS: dict[str, Any] = {
    "strategy": "darts", "name": "search", "epochs": 50, "batch_size": 64, "lr": 0.025,
    "weight_decay": 3e-4, "val_fraction": 0.5, "timeout": None, "final_epochs": None,
}
_FROM_FLAGS = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr",
               "weight_decay": "--weight-decay"}
_NOT_FOR_DARTS = ("budget", "evaluator", "objective", "minimize", "mnas_target", "mnas_latency",
                  "latency_table", "population_size", "sample_size", "preset", "backend",
                  "workers", "ray_address", "trial_timeout", "max_retries")


def run(args: argparse.Namespace, stored: dict[str, Any] | None, store_name: str,
        config_name: str, best_name: str) -> int:
    for key in _NOT_FOR_DARTS:
        if getattr(args, key, None) not in (None, False):
            flag = "--" + key.replace("_", "-")
            raise InvalidParameterError(f"{flag} does not apply to DARTS, which trains one "
                                        "supernet instead of evaluating trials.")
    from archsearch.cli.search import check_final_epochs, final_training

    cfg = _common.resolve(args, stored, DARTS_DEFAULTS)
    _common.check_flags(cfg, args)
    _common.set_threads(cfg)
    check_final_epochs(cfg)
    space = _common.build_space(cfg)
    config = darts_config(cfg)
    task = _common.build_task(cfg)
    augment = _common.build_augment(cfg, task)
    run_dir = Path(args.run_dir)
    store = _common.open_run_store(run_dir, store_name, cfg["name"], args.resume)
    dataset = {k: cfg[k] for k in ("dataset", "data_path", "val_fraction", "n_train", "image_size")}
    search = DartsSearch.create(cfg["name"], space, task, config, augment=augment, store=store,
                                seed=cfg["seed"], if_exists="resume" if args.resume else "error",
                                device=cfg["device"], extra_fingerprint={"dataset": dataset})
    _common.write_json(run_dir / config_name, cfg)
    print(f"DARTS (order {config.order}{', SDARTS-RS' if config.perturb == 'random' else ''}) "
          f"on {task!r}, {config.epochs} epochs from epoch {search.next_epoch + 1}",
          file=sys.stderr)
    _run_with_progress(search, cfg["timeout"])
    code = _finish(search, run_dir, best_name)
    if cfg["final_epochs"] is not None:
        code = final_training(run_dir, cfg)
    return code


def darts_config(cfg: dict[str, Any]) -> DartsConfig:
    """The DARTS settings of the ``--strategy`` spec and the training options."""
    name, settings = parse_spec(cfg["strategy"])
    fields = {f.name for f in dataclasses.fields(DartsConfig)}
    for key in settings:
        if key in _FROM_FLAGS:
            raise InvalidParameterError(f"Set DARTS {key} with {_FROM_FLAGS[key]}, not in "
                                        f"--strategy {cfg['strategy']}.")
        if key not in fields:
            known = sorted(fields - set(_FROM_FLAGS))
            raise InvalidParameterError(f"DARTS has no setting {key!r}; it has: "
                                        f"{', '.join(known)}.")
    config = DartsConfig(**{k: cfg[k] for k in _FROM_FLAGS}, **settings)
    config.check()
    return config


def _run_with_progress(search: DartsSearch, timeout: float | None) -> None:
    cfg = search.config
    steps = -(-len(search.task.y_train) // cfg.batch_size)
    bar = tqdm(total=cfg.epochs * steps, initial=search.next_epoch * steps, unit="step",
               file=sys.stderr, dynamic_ncols=True, disable=None)
    start = time.monotonic()

    def on_epoch(s: DartsSearch, trial: FrozenTrial) -> None:
        base = epoch_base(s.store.trials(s.experiment_id))
        bar.write(epoch_line(trial, time.monotonic() - start, base), file=sys.stderr)

    try:
        search.run(timeout=timeout, callbacks=[on_epoch], on_step=lambda e, i: bar.update(1))
    finally:
        bar.close()


def epoch_line(trial: FrozenTrial, elapsed: float | None = None, base: int = 1) -> str:
    """One line per epoch, counted from 1: accuracies, collapse signals and the derived
    architecture (``base``: what the run's rows count from, see ``epoch_base``)."""
    v = trial.values
    epoch = epoch_number(trial, base)
    if trial.state.value != "complete":
        return f"epoch {epoch:3d} {trial.state.value}: {trial.error}"
    when = "" if elapsed is None else f"[{elapsed:7.1f}s] "
    return (f"{when}epoch {epoch:3d}  train {v['train_accuracy']:.4f}  val "
            f"{v['val_accuracy']:.4f}  skip {v.get('skip_share', float('nan')):.2f}  none "
            f"{v.get('none_share', float('nan')):.2f}  eig {v['hessian_ev']:8.4f}  {trial.arch}")


def _finish(search: DartsSearch, run_dir: Path, best_name: str) -> int:
    epochs = search.epochs()
    if not epochs:
        raise InvalidParameterError(f"No epoch of {search.name!r} finished; see "
                                    f"'archsearch show {run_dir}'.")
    last = epochs[-1]
    arch = search.result()
    summary = {"space": search.space.name, "space_config": search.space.config(),
               "arch": str(arch), "key": arch.key, "trial": last.number,
               "values": dict(last.values), "objective": "val_accuracy", "strategy": "darts"}
    _common.write_json(run_dir / best_name, summary)
    done = "finished" if search.next_epoch >= search.config.epochs else "so far"
    print(f"DARTS {done}: {len(epochs)} of {search.config.epochs} epochs")
    print(f"  arch          {arch}")
    for name in ("val_accuracy", "train_accuracy", "skip_share", "none_share", "hessian_ev"):
        if name in last.values:
            print(f"  {name:<13} {last.values[name]:.4g}")
    try:
        from archsearch.reports import draw_architecture

        draw_architecture(search.space, arch, run_dir / "cells.png")
        print(f"  cells         {run_dir / 'cells.png'}")
    except ImportError:  # drawing needs the plot extra
        pass
    print(f"  saved         {run_dir / best_name}")
    return 0
