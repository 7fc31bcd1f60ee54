"""Proxy-guided search against the same search unguided, at equal training budget.

On the Fashion-MNIST NB201 table: each strategy runs for ``--seeds`` seeds of ``--budget``
queries (a query is one trained architecture, looked up in the table). Screened strategies
(``NAME:screen=K``) pick every architecture as NASWOT's favourite among K proposals of the
strategy, before any training; ``naswot:n=N`` trains NASWOT's top picks among N. Prints the
table accuracy of each run's pick (mean ± std over seeds) after several budgets, and the
proxy seconds a run spends on one core. Scores are cached across runs (a score is a property
of the architecture), so a run's scoring time is its number of distinct scored
architectures times the mean seconds per score measured here.

    python benchmarks/proxy_guided.py [--seeds 50] [--budget 100] [--candidates 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from archsearch.benchmarks import compare_strategies
from archsearch.benchmarks.table import read_table, space_of
from archsearch.data import load_task
from archsearch.strategies import ProxyScorer

TABLE = Path(__file__).resolve().parents[1] / "tables" / "nb201-fashion-mnist.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=str(TABLE))
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--column", default="val_acc_3ep")
    parser.add_argument("--proxy", default="naswot")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--candidates", type=int, default=10)
    parser.add_argument("--report-at", default="10,20,50,100")
    parser.add_argument("--specs", help="comma-separated strategy specs (default: random, "
                        "evolution, both screened by K candidates, and naswot:n=K*budget)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = read_table(args.table)
    space = space_of(table)
    task = load_task(args.dataset, image_size=table.meta.get("recipe", {}).get("image_size"))
    scorer = ProxyScorer(task, args.proxy, batch_size=128, device="cpu")
    k = args.candidates
    specs = (args.specs.split(",") if args.specs else
             ["random", f"random:screen={k}", "evolution", f"evolution:screen={k}",
              f"naswot:n={k * args.budget}"])
    start = time.perf_counter()
    result = compare_strategies(table, space, args.column, specs, budget=args.budget,
                                seeds=args.seeds, scorer=scorer)
    took = time.perf_counter() - start
    per = scorer.seconds / max(1, len(scorer))
    at = [q for q in (int(s) for s in args.report_at.split(",")) if q <= args.budget]
    print(f"{args.table}: {args.column} of the pick, {args.seeds} seeds, table optimum "
          f"{result.optimum:.2f}; {args.proxy} on one batch of 128, {per:.3f} s per "
          f"architecture on 1 thread ({len(scorer)} scored in all, {took:.0f} s wall)")
    width = max(22, *(len(s) + 2 for s in specs))
    print(f"  {'strategy':<{width}}" + "".join(f"{f'{q} trained':>16}" for q in at)
          + f"{'proxy s/run':>13}")
    for spec in specs:
        curves = result.curves[spec]
        cells = "".join(f"{np.nanmean(curves[:, q - 1]):9.2f} ± {np.nanstd(curves[:, q - 1]):.2f}"
                        for q in at)
        scored = result.proxy_evaluations.get(spec)
        cost = f"{np.mean(scored) * per:13.1f}" if scored else f"{0.0:13.1f}"
        print(f"  {spec:<{width}}{cells}{cost}")


if __name__ == "__main__":
    main()
