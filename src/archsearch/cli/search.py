"""``archsearch search``: run (or resume) a search into a run directory.

A run directory holds ``store.db`` (every trial), ``config.json`` (the settings that made
the run) and ``best.json`` (the best architecture and its metrics).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from archsearch.cli import _common
from archsearch.errors import ExperimentExistsError, InvalidParameterError
from archsearch.evaluators import Evaluator, PartialTraining, TabularLookup
from archsearch.experiment import Experiment
from archsearch.spaces import SearchSpace
from archsearch.storage import SQLiteStore
from archsearch.strategies import Strategy, create_strategy
from archsearch.types import FrozenTrial, TrialState

STORE, CONFIG, BEST = "store.db", "config.json", "best.json"
SEARCH_DEFAULTS: dict[str, Any] = {
    "strategy": "evolution", "population_size": 10, "sample_size": 3, "name": "search",
    "evaluator": "train", "objective": None,
}


def add_parser(commands: Any) -> None:
    p = commands.add_parser("search", help="search for an architecture",
                            description="Run a neural architecture search, or resume one.")
    p.add_argument("--run-dir", default="runs/search", help="run directory (default: runs/search)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir with its stored settings; budget, "
                   "timeout, device and threads may be changed, settings that define the "
                   "search may not")
    p.add_argument("--budget", type=int, help="total finished trials wanted (default: 20)")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--strategy", help="random or evolution (default: evolution)")
    p.add_argument("--population-size", type=int, help="evolution: population (default: 10)")
    p.add_argument("--sample-size", type=int, help="evolution: tournament size (default: 3)")
    p.add_argument("--name", help="experiment name in the store (default: search)")
    p.add_argument("--evaluator", help="'train' (partial training, the default) or "
                   "'table:PATH' (look architectures up in a tabular benchmark)")
    p.add_argument("--objective", help="with a table: the column to maximise")
    _common.add_space_args(p)
    _common.add_data_args(p)
    _common.add_train_args(p, epochs_default=5)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    stored = _stored_config(run_dir) if args.resume else None
    cfg = _common.resolve(args, stored, dict(SEARCH_DEFAULTS, budget=20, timeout=None))
    if cfg["budget"] is None and cfg["timeout"] is None:
        cfg["budget"] = 20
    _common.set_threads(cfg)
    parts = _parts(cfg)  # bad settings fail here, before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(run_dir / STORE)
    if not args.resume and store.find_experiment(cfg["name"]) is not None:
        raise ExperimentExistsError(
            f"{run_dir} already holds search {cfg['name']!r}. Add --resume to continue it, "
            "or pick another --run-dir.")
    space, strategy, evaluator, extra = parts
    exp = Experiment.create(cfg["name"], space, strategy, evaluator, store=store,
                            seed=cfg["seed"], if_exists="resume" if args.resume else "error",
                            extra_fingerprint=extra)
    _common.write_json(run_dir / CONFIG, cfg)
    _run_with_progress(exp, cfg)
    return _finish(exp, run_dir)


def _stored_config(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / CONFIG
    if not path.exists():
        return None
    return _common.read_json(path, "run configuration")


def _parts(cfg: dict[str, Any]) -> tuple[SearchSpace, Strategy, Evaluator, dict[str, Any]]:
    """The space, strategy and evaluator the settings name, set up and checked."""
    space = _common.build_space(cfg)
    strategy_args = ({"population_size": cfg["population_size"], "sample_size": cfg["sample_size"]}
                     if cfg["strategy"] == "evolution" else {})
    strategy = create_strategy(cfg["strategy"], **strategy_args)
    evaluator, extra = _evaluator(cfg)
    evaluator.setup(space)
    strategy.setup(space, evaluator.objectives[0], cfg["seed"])
    return space, strategy, evaluator, extra


def _evaluator(cfg: dict[str, Any]) -> tuple[Evaluator, dict[str, Any]]:
    """The evaluator the settings name, and what identifies its data."""
    name = str(cfg["evaluator"])
    if name.startswith("table:"):
        if not cfg["objective"]:
            raise InvalidParameterError("--evaluator table:PATH needs --objective COLUMN.")
        return TabularLookup(name[len("table:"):], cfg["objective"]), {}
    if name != "train":
        raise InvalidParameterError(f"--evaluator must be 'train' or 'table:PATH'. Got {name!r}.")
    task = _common.build_task(cfg)
    evaluator = PartialTraining(task, _common.build_train(cfg), _common.build_augment(cfg, task),
                                device=cfg["device"])
    dataset = {k: cfg[k] for k in ("dataset", "data_path", "val_fraction", "n_train")}
    return evaluator, {"dataset": dataset}


def _run_with_progress(exp: Experiment, cfg: dict[str, Any]) -> None:
    budget, timeout = cfg["budget"], cfg["timeout"]
    done = exp.n_finished()
    if budget is not None and done >= budget:
        print(f"{exp.n_finished()} trials already finished (budget {budget}).", file=sys.stderr)
        return
    bar = tqdm(total=budget, initial=done, unit="trial", file=sys.stderr, dynamic_ncols=True,
               disable=None)
    start = time.monotonic()

    def on_trial(e: Experiment, trial: FrozenTrial) -> None:
        bar.update(1)
        best = e.best()
        if best:
            bar.set_postfix(best=f"{best[0].values.get(e.objective.name, float('nan')):.4f}")
        bar.write(_trial_line(trial, e.objective.name, time.monotonic() - start), file=sys.stderr)

    try:
        exp.run(budget, timeout=timeout, callbacks=[on_trial])
    finally:
        bar.close()


def _trial_line(trial: FrozenTrial, objective: str, elapsed: float) -> str:
    if trial.state is TrialState.COMPLETE:
        v = trial.values
        what = f"{objective}={v.get(objective, float('nan')):.4f}"
        if "params" in v:
            what += f" params={int(v['params'])}"
    else:
        what = f"{trial.state.value}: {trial.error}"
    return f"[{elapsed:7.1f}s] trial {trial.number:3d} {what} {trial.arch}"


def _finish(exp: Experiment, run_dir: Path) -> int:
    best = exp.best()
    if not best:
        raise InvalidParameterError(
            f"No trial of {exp.name!r} completed; see 'archsearch show {run_dir}' for the errors.")
    trial = best[0]
    summary = {"space": exp.space.name, "space_config": exp.space.config(), "arch": trial.arch,
               "key": trial.key, "trial": trial.number, "values": dict(trial.values),
               "objective": exp.objective.name}
    _common.write_json(run_dir / BEST, summary)
    n = len(exp.trials([TrialState.COMPLETE]))
    print(f"best of {n} complete trials: trial {trial.number}")
    print(f"  arch          {trial.arch}")
    shown = ("val_accuracy", "val_loss", "params", "flops", "train_seconds", exp.objective.name)
    for name in dict.fromkeys(shown):
        if name in trial.values:
            print(f"  {name:<13} {trial.values[name]:.6g}")
    if "val_accuracy" not in trial.values:
        print(f"  {'metrics':<13} {len(trial.values)} (see 'archsearch show {run_dir} --json')")
    print(f"  saved         {run_dir / BEST}")
    return 0
