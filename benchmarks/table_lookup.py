"""Framework cost of searching on a table: one lookup, and one whole trial of the loop.

Prints microseconds per lookup through TabularLookup against a bare dict lookup of the same
strings (the baseline, measured in the same run), and microseconds per trial of a full
Experiment (ask, store, evaluate, tell) with random search and with regularised evolution.

    python benchmarks/table_lookup.py [--table ../shared/data/nb201/nb201.csv]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import archsearch
from archsearch.benchmarks import read_table
from archsearch.storage import MemoryStore

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nb201" / "nb201.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(DEFAULT))
    parser.add_argument("--objective", default="cifar10_val_acc_12ep")
    args = parser.parse_args()
    if not Path(args.table).is_file():
        raise SystemExit(f"no table at {args.table}; pass --table")
    space = archsearch.create_space("nb201")
    start = time.perf_counter()
    table = read_table(args.table).index(space)
    print(f"load + index {len(table)} rows: {time.perf_counter() - start:.2f} s")
    evaluator = archsearch.TabularLookup(table, args.objective)
    evaluator.setup(space)
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(20000)]
    plain = {text: i for i, text in enumerate(table.archs)}
    ctx = archsearch.TrialContext(0, 0)

    start = time.perf_counter()
    for arch in archs:
        plain[arch.string]
    base = (time.perf_counter() - start) / len(archs) * 1e6
    start = time.perf_counter()
    for arch in archs:
        evaluator.evaluate(arch, ctx)
    lookup = (time.perf_counter() - start) / len(archs) * 1e6
    print(f"lookup: {lookup:.2f} us (bare dict of strings: {base:.3f} us; ratio {lookup / base:.0f}x)")

    for name in ("random", "evolution"):
        start = time.perf_counter()
        for seed in range(20):
            exp = archsearch.Experiment.create(
                "b", space, archsearch.create_strategy(name), evaluator, store=MemoryStore(),
                seed=seed)
            exp.run(n_trials=100)
        per_trial = (time.perf_counter() - start) / 2000 * 1e6
        print(f"whole trial with {name}: {per_trial:.0f} us ({per_trial / lookup:.0f}x one lookup)")


if __name__ == "__main__":
    main()
