"""Build a tabular benchmark: train every distinct architecture of a space with one recipe.

The build is recorded in an SQLite store beside the table (``<table>.build/store.db``):
each architecture is a trial, written before it trains and when it ends, so a killed
build resumes where it stopped and never trains a finished architecture again. Worker
processes each take every K-th architecture of a seeded order, so a partial build is a
uniform random sample of the space. When every row is done, the table and its metadata
are written.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import multiprocessing as mp
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archsearch import __version__
from archsearch._utils.lifeline import die_with_parent
from archsearch._utils.seeding import torch_seed_for
from archsearch._utils.validation import check_int
from archsearch.backends.pool import check_pool_size
from archsearch.benchmarks.table import write_table
from archsearch.data import Augment, load_task
from archsearch.errors import ArchSearchError, TrialFailed
from archsearch.evaluators.base import TrialContext
from archsearch.evaluators.partial_training import PartialTraining
from archsearch.spaces import create_space
from archsearch.spaces.base import SearchSpace
from archsearch.storage import SQLiteStore
from archsearch.training import TrainConfig
from archsearch.types import Architecture, FrozenTrial, TrialState

__all__ = ["BuildRecipe", "BuildError", "build_table", "distinct_architectures", "export_table"]

EXPERIMENT = "build"


class BuildError(ArchSearchError, RuntimeError):
    """A table build could not finish (a worker died); rerun it to resume."""


@dataclass(frozen=True)
class BuildRecipe:
    """Everything that defines a table: the space, the data and the training recipe.

    Args:
        space: a registered space name.
        space_config: its settings (e.g. ``{"channels": 8, "cells_per_stage": 1}``).
        dataset: a registered dataset name.
        val_fraction: share of training data held out for the accuracies in the table.
        n_train: train on a stratified subset of this many examples (None: all).
        image_size: resize images to this side (None: native size).
        train: the training recipe; the table records validation accuracy after each
            epoch listed in ``fidelities``.
        fidelities: epochs whose validation accuracy becomes a column (default: all).
        seed: seed of the split, the architecture order and every training run.
        sample: build a seeded sample of this many distinct architectures (None: all).
    """

    space: str = "nb201"
    space_config: dict[str, Any] = field(default_factory=dict)
    dataset: str = "fashion-mnist"
    val_fraction: float = 0.2
    n_train: int | None = None
    image_size: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    fidelities: tuple[int, ...] = ()
    seed: int = 0
    sample: int | None = None

    def epochs(self) -> tuple[int, ...]:
        """The fidelities, defaulting to every epoch."""
        return self.fidelities or tuple(range(1, self.train.n_epochs + 1))

    def check(self) -> None:
        """Raise InvalidParameterError for an inconsistent recipe."""
        self.train.check()
        for e in self.epochs():
            check_int("BuildRecipe", "fidelities", e, 1, self.train.n_epochs, "n_epochs")
        if self.sample is not None:
            check_int("BuildRecipe", "sample", self.sample, 1)

    def to_json(self) -> dict[str, Any]:
        """The recipe as JSON-ready data (the identity of a build)."""
        data = dataclasses.asdict(self)
        data["train"] = self.train.to_dict()
        data["fidelities"] = list(self.epochs())
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildRecipe:
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        data["train"] = TrainConfig(**data["train"])
        data["fidelities"] = tuple(data["fidelities"])
        return cls(**data)

    def make_space(self) -> SearchSpace:
        return create_space(self.space, **self.space_config)


def distinct_architectures(space: SearchSpace, seed: int = 0,
                           sample: int | None = None) -> list[Architecture]:
    """One architecture per canonical key of a finite space, in a seeded random order."""
    if space.size > 10_000_000:
        raise ArchSearchError(f"The {space.name} space has {space.size} architectures; building "
                              "a table of all of them is not possible. Pass a sample size.")
    firsts: dict[str, Architecture] = {}
    for indices in itertools.product(*(range(len(d.choices)) for d in space.decisions())):
        arch = space.decode(indices)
        firsts.setdefault(arch.key, arch)
    archs = list(firsts.values())
    order = np.random.default_rng(seed).permutation(len(archs))
    picked = [archs[i] for i in order]
    return picked if sample is None else picked[:sample]


def build_table(recipe: BuildRecipe, out: str | Path, *, workers: int = 1,
                threads_per_worker: int = 1, data_dir: str | None = None,
                timeout: float | None = None,
                progress: Callable[[int, int], None] | None = None,
                oversubscribe: bool = False) -> Path:
    """Build (or resume building) the table ``out``; returns the table path.

    Args:
        recipe: what defines the table.
        out: the table file to write (``.csv.gz`` recommended).
        workers: training processes to run at once.
        threads_per_worker: torch threads of each worker (workers x threads <= cores).
        data_dir: where the dataset files are (not part of the recipe).
        timeout: stop starting new architectures after this many seconds; rerun to go on.
        progress: called with (rows done, rows in all) about every second.
        oversubscribe: start ``workers`` x ``threads_per_worker`` torch threads even when
            that is far above this machine's cores (refused otherwise).
    """
    recipe.check()
    check_int("build_table", "workers", workers, 1)
    check_int("build_table", "threads_per_worker", threads_per_worker, 1)
    check_pool_size(workers, threads_per_worker, oversubscribe,
                    names=("workers", "threads_per_worker", "oversubscribe=True"))
    out = Path(out)
    store_path = work_dir(out) / "store.db"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(store_path)
    experiment_id = _open_experiment(store, recipe)
    store.mark_interrupted(experiment_id)
    total = len(distinct_architectures(recipe.make_space(), recipe.seed, recipe.sample))
    deadline = None if timeout is None else time.time() + timeout
    args = (recipe.to_json(), str(store_path), experiment_id, data_dir, threads_per_worker,
            deadline)
    if workers == 1:
        _worker(*args, None, 0, 1, lambda: progress(len(_done(store, experiment_id)), total)
                if progress else None)
    else:
        _run_workers(args, workers, store, experiment_id, total, progress)
    done = _done(store, experiment_id)
    if progress:
        progress(len(done), total)
    if len(done) >= total:
        export_table(recipe, store, experiment_id, out)
    return out


def work_dir(out: Path) -> Path:
    """Where a table's build keeps its store."""
    return out.with_name(out.name + ".build")


def _open_experiment(store: SQLiteStore, recipe: BuildRecipe) -> int:
    found = store.find_experiment(EXPERIMENT)
    if found is None:
        return store.create_experiment(EXPERIMENT, recipe.to_json())
    experiment_id, stored = found
    if stored != recipe.to_json():
        diff = [k for k in sorted(set(stored) | set(recipe.to_json()))
                if stored.get(k) != recipe.to_json().get(k)]
        raise ArchSearchError(
            f"{store.path} holds a build with another recipe ({', '.join(diff)} differ: "
            f"{diff[0]} was {stored.get(diff[0])!r}, now {recipe.to_json().get(diff[0])!r}). "
            "Use the same settings to resume, or another --out.")
    return experiment_id


def _done(store: SQLiteStore, experiment_id: int) -> dict[str, FrozenTrial]:
    return {t.key: t for t in store.trials(experiment_id) if t.state.finished}


def _run_workers(args: tuple[Any, ...], workers: int, store: SQLiteStore, experiment_id: int,
                 total: int, progress: Callable[[int, int], None] | None) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(*args, os.getpid(), i, workers), daemon=True)
             for i in range(workers)]
    for p in procs:
        p.start()
    try:
        while any(p.is_alive() for p in procs):
            if progress:
                progress(len(_done(store, experiment_id)), total)
            for p in procs:
                p.join(timeout=1.0 / workers)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    dead = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode not in (0, None)]
    if dead:
        raise BuildError(f"Build worker {dead[0][0]} died (exit code {dead[0][1]}); its finished "
                         "rows are saved: run the same command again to resume.")


def _worker(recipe_json: dict[str, Any], store_path: str, experiment_id: int,
            data_dir: str | None, threads: int, deadline: float | None, parent: int | None,
            index: int, n_workers: int, on_row: Callable[[], None] | None = None) -> None:
    """Train this worker's share of the architectures that are not done yet.

    A worker whose parent died (the build was killed) stops at the next epoch, leaving its
    row RUNNING; the next build marks it interrupted and trains it again.
    """
    if parent is not None:
        die_with_parent(parent)
    torch.set_num_threads(threads)
    recipe = BuildRecipe.from_json(recipe_json)
    space = recipe.make_space()
    archs = distinct_architectures(space, recipe.seed, recipe.sample)
    store = SQLiteStore(store_path)
    done = set(_done(store, experiment_id))
    mine = [(i, a) for i, a in enumerate(archs) if i % n_workers == index and a.key not in done]
    if not mine:
        return
    task = load_task(recipe.dataset, data_dir=data_dir, val_fraction=recipe.val_fraction,
                     seed=recipe.seed, n_train=recipe.n_train, image_size=recipe.image_size)
    evaluator = PartialTraining(task, recipe.train, Augment(), device="cpu", measure_latency=True)
    evaluator.setup(space)
    for position, arch in mine:
        if deadline is not None and time.time() >= deadline:
            return
        _train_row(store, experiment_id, evaluator, arch, position, recipe.seed, parent)
        if on_row is not None:
            on_row()


def _train_row(store: SQLiteStore, experiment_id: int, evaluator: PartialTraining,
               arch: Architecture, position: int, seed: int, parent: int | None) -> None:
    _exit_if_orphaned(parent)
    trial = store.start_trial(experiment_id, arch)

    def report(step: int, value: float) -> None:
        _exit_if_orphaned(parent)
        store.report(trial.id, step, value)

    try:
        values = evaluator.evaluate(arch, TrialContext(position, torch_seed_for(seed, position),
                                                       reporter=report))
    except TrialFailed as err:
        store.finish_trial(trial.id, TrialState.FAILED, None, str(err))
    except Exception as err:  # noqa: BLE001 - one bad architecture must not stop a build
        store.finish_trial(trial.id, TrialState.FAILED, None, repr(err))
    else:
        store.finish_trial(trial.id, TrialState.COMPLETE, values)


def _exit_if_orphaned(parent: int | None) -> None:
    if parent is not None and os.getppid() != parent:
        raise SystemExit(0)  # not an Exception: the row is left for the next build


def export_table(recipe: BuildRecipe, store: SQLiteStore, experiment_id: int,
                 out: str | Path) -> Path:
    """Write the table of finished rows (in the space's enumeration order) and its metadata."""
    done = _done(store, experiment_id)
    space = recipe.make_space()
    archs = distinct_architectures(space, recipe.seed, recipe.sample)
    ordered = sorted((a for a in archs if a.key in done), key=lambda a: tuple(space.encode(a)))
    rows = [_row(done[a.key], recipe.epochs()) for a in ordered]
    trials = list(done.values())
    meta = {
        "space": recipe.space, "space_config": recipe.space_config, "dataset": recipe.dataset,
        "recipe": recipe.to_json(),
        "fidelities": {"val_acc": [f"val_acc_{e}ep" for e in recipe.epochs()]},
        "units": {"val_acc_*": "percent", "train_seconds": "s", "latency_ms": "ms, batch 1, CPU"},
        "rows": len(rows), "complete": len(rows) == len(archs),
        "failed": sum(t.state is not TrialState.COMPLETE for t in trials),
        "build": {
            "cpu_seconds_total": round(sum(t.duration_s or 0.0 for t in trials), 1),
            "wall_seconds": round(_wall_seconds(trials), 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor()}",
            "torch": torch.__version__, "archsearch": __version__,
        },
        "provenance": "built by 'archsearch bench build' with the recipe above",
    }
    write_table(out, rows, meta)
    return Path(out)


def _row(trial: FrozenTrial, epochs: Sequence[int]) -> dict[str, Any]:
    row: dict[str, Any] = {"arch": trial.arch}
    for e in epochs:
        value = trial.intermediate.get(e, math.nan)
        row[f"val_acc_{e}ep"] = round(100 * value, 4) if math.isfinite(value) else math.nan
    v = trial.values
    for name in ("val_loss", "train_seconds", "params", "flops", "latency_ms"):
        row[name] = v.get(name, math.nan)
    return row


def _wall_seconds(trials: Sequence[FrozenTrial]) -> float:
    starts = [t.started_at for t in trials if t.started_at]
    ends = [t.finished_at for t in trials if t.finished_at]
    return (max(ends) - min(starts)) if starts and ends else 0.0
