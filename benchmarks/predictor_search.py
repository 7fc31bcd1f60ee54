"""Predictor-guided search and local search against evolution and random search.

On the NAS-Bench-201 table, the protocol of ``archsearch bench compare``: each strategy runs
``--seeds`` seeds of ``--budget`` queries, picks its best trial by ``--objective`` (the
12-epoch accuracy) and is scored by the ``--report`` column of that pick (the 200-epoch
accuracy). Prints a markdown table of the mean ± std over seeds after several budgets, the
gain over evolution at the full budget, the objective value of the final picks, how many
runs picked the table's best architecture by the objective, and the seconds one run costs
on one core. The ceiling is the report value of that architecture: what a search that
always found it would score, since the pick is made by the objective.

    python benchmarks/predictor_search.py [--table ../shared/data/nb201/nb201.csv] [--seeds 200]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import archsearch
from archsearch.benchmarks import compare_strategies, read_table

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "nb201" / "nb201.csv"
SPECS = "random,evolution,local,predictor"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(DEFAULT))
    parser.add_argument("--objective", default="cifar10_val_acc_12ep")
    parser.add_argument("--report", default="cifar10_val_acc_200ep")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--report-at", default="30,50,100")
    parser.add_argument("--specs", default=SPECS, help=f"comma-separated strategy specs "
                        f"(default: {SPECS}); evolution is the reference if present")
    args = parser.parse_args()
    if not Path(args.table).is_file():
        raise SystemExit(f"no table at {args.table}; pass --table")
    torch.set_num_threads(1)
    space = archsearch.create_space("nb201")
    table = read_table(args.table).index(space)
    objective, report = table.columns[args.objective], table.columns[args.report]
    best = float(np.nanmax(objective))
    ceiling = float(report[int(np.nanargmax(objective))])
    specs = sorted((s.strip() for s in args.specs.split(",") if s.strip()),
                   key=lambda s: s != "evolution")  # the reference first (a stable sort)
    at = [q for q in (int(s) for s in args.report_at.split(",")) if q <= args.budget]
    print(f"{args.report} of the pick by {args.objective}, {args.seeds} seeds; table optimum "
          f"{np.nanmax(report):.2f}, ceiling {ceiling:.2f} (the best by {args.objective}); "
          f"± is the std over seeds (the std error of a mean is {args.seeds ** -0.5:.3f} x that)")
    print()
    print("| strategy | " + " | ".join(f"{q} queries" for q in at)
          + f" | vs evolution | {args.objective} of the pick | runs at the ceiling | s/run |")
    print("|---|" + "---:|" * (len(at) + 4))
    reference = None
    for spec in specs:  # one at a time, so each line shows as soon as it is known
        result = compare_strategies(table, space, args.objective, [spec], budget=args.budget,
                                    seeds=args.seeds, report=args.report)
        curves = result.curves[spec]
        cells = [f"{np.nanmean(curves[:, q - 1]):.2f} ± {np.nanstd(curves[:, q - 1]):.2f}"
                 for q in at]
        mean = float(np.nanmean(curves[:, -1]))
        if spec == "evolution":
            reference = mean
        delta = f"{mean - reference:+.3f}" if reference is not None else ""
        picked = [pick.get(args.objective, np.nan) for pick in result.picks[spec]]
        hits = sum(value == best for value in picked)
        print(f"| {spec} | " + " | ".join(cells) + f" | {delta} | {np.mean(picked):.2f} "
              f"| {hits}/{args.seeds} | {result.seconds[spec] / args.seeds:.2f} |", flush=True)


if __name__ == "__main__":
    main()
