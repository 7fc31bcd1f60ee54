"""``archsearch show RUN_DIR``: the trials of a run and the best of them."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from archsearch.cli import _common
from archsearch.cli._json import dumps
from archsearch.cli.search import STORE
from archsearch.errors import InvalidParameterError, StoreError
from archsearch.experiment import best_trials
from archsearch.objectives import (
    Direction,
    MnasReward,
    MultiObjective,
    objective_from_json,
    pareto_front,
)
from archsearch.reports.pareto import plot_pareto
from archsearch.storage import SQLiteStore
from archsearch.types import FrozenTrial, Objective, TrialState


def add_parser(commands: Any) -> None:
    p = commands.add_parser("show", help="show the trials of a run",
                            description="Show the trials of a search and the best one.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory made by 'archsearch search'")
    p.add_argument("--name", help="experiment name (default: the first in the store)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--pareto", metavar="M1,M2",
                   help="the trials no other beats on both metrics, e.g. "
                   "val_accuracy,latency_ms (append :max or :min to set a direction; default: "
                   "the objective's direction, else min for latency, params, flops, loss and "
                   "time metrics and max for the rest). A MnasNet-reward search shows its "
                   "accuracy and latency front without this option")
    p.add_argument("--plot", metavar="PNG", help="plot the Pareto front to this file")
    p.add_argument("--limit", type=int, metavar="N", default=50,
                   help="show the last N trials of the table (default: 50); --json shows all")
    p.add_argument("--all", action="store_true", help="show every trial of the table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and (isinstance(args.limit, bool) or args.limit < 1):
        raise InvalidParameterError(f"--limit must be an int >= 1 (or --all for every trial). "
                                    f"Got {args.limit}.")
    path = Path(args.run_dir) / STORE
    if not path.is_file():
        raise StoreError(f"No archsearch run in {args.run_dir}: {path} does not exist.")
    store = SQLiteStore(path, create=False)  # showing never writes a new store's schema
    names = store.experiment_names()
    name = args.name or (names[0] if names else None)
    found = store.find_experiment(name) if name else None
    if found is None:
        raise StoreError(f"No experiment {name!r} in {path}; it holds: {names or 'none'}.")
    experiment_id, fingerprint = found
    strategy = fingerprint.get("strategy")
    if isinstance(strategy, dict) and strategy.get("name") == "darts":
        try:
            return _show_darts(args, store, name or "", experiment_id, fingerprint)
        except (KeyError, TypeError, ValueError) as err:  # epochs written by something else
            raise StoreError(f"Experiment {name!r} in {path} is marked DARTS but its epochs "
                             f"are not: {type(err).__name__} {err}.") from None
    try:
        objective = objective_from_json(fingerprint.get("objective", {"name": "val_accuracy"}))
        if not isinstance(objective.name, str):
            raise TypeError(f"the objective's name is {objective.name!r}")
    except (TypeError, ValueError, KeyError) as err:
        raise StoreError(f"Experiment {name!r} in {path} has corrupt objective settings: "
                         f"{err}.") from None
    trials = store.trials(experiment_id)
    best = best_trials([t for t in trials if t.state is TrialState.COMPLETE], objective)
    pair = _pareto_pair(args.pareto, objective)
    if args.plot and pair is None:
        raise InvalidParameterError("--plot needs --pareto M1,M2 (or a MnasNet-reward search).")
    front = pareto_front(trials, *pair) if pair else []
    if pair:
        _check_metrics(trials, pair)
    if args.plot and pair:
        plot_pareto(trials, *pair, args.plot, chosen=best[0] if best else None,
                    target=getattr(objective, "target", None), title=f"{name}: Pareto front")
    if args.json:
        out = {"experiment": name, "settings": fingerprint,
               "trials": [t.to_json() for t in trials],
               "best": best[0].to_json() if best else None}
        if pair:
            out["pareto"] = {"metrics": [list(m) for m in pair],
                             "trials": [t.number for t in front]}
        print(dumps(out))
        return 0
    _print_table(name or "", trials, objective, None if args.all else args.limit)
    if best:
        print(f"\nbest: trial {best[0].number}  {objective.name}="
              f"{best[0].values.get(objective.name, math.nan):.4f}  {best[0].arch}")
    if pair:
        (m1, d1), (m2, d2) = pair
        print(f"\nPareto front of {m1} ({d1[:3]}) and {m2} ({d2[:3]}): {len(front)} trials")
        w1, w2 = max(10, len(m1)), max(10, len(m2))
        print(f"{'#':>4} {m1:>{w1}} {m2:>{w2}}  arch")
        for t in front:
            mark = "  <- best" if best and t.number == best[0].number else ""
            print(f"{t.number:>4} {t.values[m1]:{w1}.4f} {t.values[m2]:{w2}.4f}  {t.arch}{mark}")
    if args.plot:
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


def _pareto_pair(text: str | None, objective: Objective
                 ) -> tuple[tuple[str, Direction], tuple[str, Direction]] | None:
    """The two (metric, direction) pairs of --pareto, or the objective's own by default."""
    if text is None:
        if isinstance(objective, MnasReward):
            return (objective.accuracy, "maximize"), (objective.latency, "minimize")
        if isinstance(objective, MultiObjective) and len(objective.metrics) == 2:
            return objective.metrics[0], objective.metrics[1]
        return None
    known: dict[str, str] = (dict(objective.metrics) if isinstance(objective, MultiObjective)
                             else {objective.name: objective.direction})
    pair = _common.parse_metrics(text, "--pareto", known)
    if len(pair) != 2:
        raise InvalidParameterError(f"--pareto takes two metrics, M1,M2. Got {text!r}.")
    return pair[0], pair[1]


def _check_metrics(trials: list[FrozenTrial], pair: tuple[tuple[str, Direction], ...]) -> None:
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    for metric, _ in pair:
        if complete and not any(metric in t.values for t in complete):
            known = sorted({k for t in complete for k in t.values})
            raise InvalidParameterError(
                f"No trial has metric {metric!r}; they have: {', '.join(known)}.")


def _print_table(name: str, trials: list[FrozenTrial], objective: Objective,
                 limit: int | None) -> None:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    print(f"experiment {name!r}: {len(trials)} trials ("
          + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")")
    w = max(12, len(objective.name))
    hidden = max(0, len(trials) - limit) if limit is not None else 0
    if hidden:
        print(f"({hidden} earlier trials hidden; --limit N or --all shows more)")
    print(f"{'#':>4} {'state':<11} {objective.name:>{w}} {'params':>9} {'seconds':>8}  arch")
    for t in trials[hidden:]:
        value = t.values.get(objective.name, math.nan)
        params = t.values.get("params", math.nan)
        seconds = t.duration_s if t.duration_s is not None else math.nan
        shown = f"{value:{w}.4f}" if t.state is TrialState.COMPLETE else f"{'-':>{w}}"
        params_s = f"{int(params):9d}" if math.isfinite(params) else f"{'-':>9}"
        line = f"{t.number:>4} {t.state.value:<11} {shown} {params_s} {seconds:8.1f}  {t.arch}"
        if t.error:
            line += f"  ({t.error})"
        print(line)


def _show_darts(args: argparse.Namespace, store: SQLiteStore, name: str, experiment_id: int,
                fingerprint: dict[str, Any]) -> int:
    """A one-shot search: one row per epoch; the result is the last finished epoch's arch."""
    from archsearch.cli._oneshot import epoch_line
    from archsearch.oneshot import epoch_base, epoch_number

    if args.pareto or args.plot:
        raise InvalidParameterError("--pareto and --plot show trials of a multi-trial search; "
                                    "a DARTS run has one row per epoch.")
    trials = store.trials(experiment_id)
    done = [t for t in trials if t.state is TrialState.COMPLETE]
    if args.json:
        out = {"experiment": name, "settings": fingerprint,
               "epochs": [{**t.to_json(), "alphas": store.artifacts(t.id).get("alphas")}
                          for t in trials],
               "result": done[-1].to_json() if done else None}
        print(dumps(out))
        return 0
    settings = fingerprint["strategy"]
    print(f"experiment {name!r}: DARTS order {settings.get('order')}, perturb "
          f"{settings.get('perturb')}, {len(done)} of {settings.get('epochs')} epochs finished")
    base = epoch_base(trials)  # rows of older runs count from 0
    for t in trials:
        print(epoch_line(t, base=base))
    if done:
        print(f"\nresult: epoch {epoch_number(done[-1], base)}  {done[-1].arch}")
    return 0
