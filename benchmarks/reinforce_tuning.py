"""Tune REINFORCE on the NB201 table: one setting at a time around the defaults.

Every setting runs the same seeds and budget as ``archsearch bench compare``; random search
and regularised evolution run beside them as the baselines of the same run. Prints the
report column of each run's pick (mean ± std over seeds) and the change against the
default settings.

    python benchmarks/reinforce_tuning.py [--table ../shared/data/nb201/nb201.csv] [--seeds 200]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import archsearch
from archsearch.benchmarks import compare_strategies, read_table

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nb201" / "nb201.csv"

SWEEP = {
    "lr": [1e-3, 3.5e-3, 1e-2, 0.1, 0.3],
    "entropy_weight": [0.0, 1e-3, 1e-2, 0.1],
    "baseline_decay": [0.5, 0.8, 0.99],
    "temperature": [1.0, 2.0],
    "tanh_constant": [1.5, 5.0],
    "batch_size": [1, 10],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(DEFAULT))
    parser.add_argument("--objective", default="cifar10_val_acc_12ep")
    parser.add_argument("--report", default="cifar10_val_acc_200ep")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--base", default="", help="settings every variant starts from, "
                        "as in a spec: KEY=VALUE[:KEY=VALUE]")
    parser.add_argument("--only", help="sweep only these settings (comma-separated)")
    args = parser.parse_args()
    if not Path(args.table).is_file():
        raise SystemExit(f"no table at {args.table}; pass --table")
    torch.set_num_threads(1)
    base = "reinforce" + (f":{args.base}" if args.base else "")
    sweep = {k: v for k, v in SWEEP.items()
             if not args.only or k in args.only.split(",")}
    specs = ["random", "evolution", base] + [f"{base}:{k}={v}" for k, vs in sweep.items()
                                             for v in vs]
    space = archsearch.create_space("nb201")
    table = read_table(args.table).index(space)
    print(f"{args.report} of the pick after {args.budget} queries by {args.objective}, "
          f"{args.seeds} seeds; ± is the std over seeds (the std error of a mean is "
          f"{args.seeds ** -0.5:.3f} x that)", flush=True)
    width = max(len(s) for s in specs)
    reference = None
    for spec in specs:  # one at a time, so each line shows as soon as it is known
        result = compare_strategies(table, space, args.objective, [spec], budget=args.budget,
                                    seeds=args.seeds, report=args.report)
        mean, std = result.final(spec)
        if spec == base:
            reference = mean
        delta = f"  {mean - reference:+.3f}" if reference is not None and spec != base else ""
        print(f"  {spec:<{width}} {mean:8.3f} ± {std:.3f}{delta}   ({result.seconds[spec]:.0f} s)",
              flush=True)


if __name__ == "__main__":
    main()
