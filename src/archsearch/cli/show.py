"""``archsearch show RUN_DIR``: the trials of a run and the best of them."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from archsearch.cli.search import STORE
from archsearch.errors import StoreError
from archsearch.experiment import best_trials
from archsearch.objectives import objective_from_json
from archsearch.storage import SQLiteStore
from archsearch.types import FrozenTrial, Objective, TrialState


def add_parser(commands: Any) -> None:
    p = commands.add_parser("show", help="show the trials of a run",
                            description="Show the trials of a search and the best one.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory made by 'archsearch search'")
    p.add_argument("--name", help="experiment name (default: the first in the store)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.run_dir) / STORE
    if not path.is_file():
        raise StoreError(f"No archsearch run in {args.run_dir}: {path} does not exist.")
    store = SQLiteStore(path)
    names = store.experiment_names()
    name = args.name or (names[0] if names else None)
    found = store.find_experiment(name) if name else None
    if found is None:
        raise StoreError(f"No experiment {name!r} in {path}; it holds: {names or 'none'}.")
    experiment_id, fingerprint = found
    objective = objective_from_json(fingerprint.get("objective", {"name": "val_accuracy"}))
    trials = store.trials(experiment_id)
    best = best_trials([t for t in trials if t.state is TrialState.COMPLETE], objective)
    if args.json:
        print(json.dumps({"experiment": name, "settings": fingerprint,
                          "trials": [t.to_json() for t in trials],
                          "best": best[0].to_json() if best else None}, indent=2))
        return 0
    _print_table(name or "", trials, objective)
    if best:
        print(f"\nbest: trial {best[0].number}  {objective.name}="
              f"{best[0].values[objective.name]:.4f}  {best[0].arch}")
    return 0


def _print_table(name: str, trials: list[FrozenTrial], objective: Objective) -> None:
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.state.value] = counts.get(t.state.value, 0) + 1
    print(f"experiment {name!r}: {len(trials)} trials ("
          + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")")
    w = max(12, len(objective.name))
    print(f"{'#':>4} {'state':<11} {objective.name:>{w}} {'params':>9} {'seconds':>8}  arch")
    for t in trials:
        value = t.values.get(objective.name, math.nan)
        params = t.values.get("params", math.nan)
        seconds = t.duration_s if t.duration_s is not None else math.nan
        shown = f"{value:{w}.4f}" if t.state is TrialState.COMPLETE else f"{'-':>{w}}"
        params_s = f"{int(params):9d}" if math.isfinite(params) else f"{'-':>9}"
        line = f"{t.number:>4} {t.state.value:<11} {shown} {params_s} {seconds:8.1f}  {t.arch}"
        if t.error:
            line += f"  ({t.error})"
        print(line)
