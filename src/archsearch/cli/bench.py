"""``archsearch bench``: tabular benchmarks (compare strategies on a table, build a table)."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from archsearch.backends.pool import check_pool_size
from archsearch.benchmarks import compare_strategies, plot_curves, read_table, space_of
from archsearch.benchmarks.build import BuildRecipe, build_table
from archsearch.benchmarks.compare import split_spec
from archsearch.benchmarks.quality import table_quality
from archsearch.benchmarks.table import Table
from archsearch.cli._json import dumps
from archsearch.errors import InvalidParameterError
from archsearch.evaluators.proxies import PROXIES
from archsearch.objectives import MnasReward, accuracy_scale_of
from archsearch.strategies import ProxyScorer, needs_scorer, parse_strategy_spec
from archsearch.training import TrainConfig
from archsearch.types import Objective


def add_parser(commands: Any) -> None:
    p = commands.add_parser("bench", help="tabular benchmarks: compare strategies, build tables",
                            description="Tabular benchmarks.")
    sub = p.add_subparsers(dest="bench_command", metavar="BENCH_COMMAND", required=True)
    c = sub.add_parser("compare", help="compare strategies on a table",
                       description="Run each strategy for --seeds seeds of --budget queries (or "
                       "--budget-epochs training epochs) on a table; print mean ± std of the "
                       "report column of each run's pick.")
    c.add_argument("--table", required=True, help="the table (CSV, CSV.gz or Parquet)")
    c.add_argument("--space", help="the table's space (default: from its metadata)")
    c.add_argument("--objective", required=True, help="the column the strategies maximise")
    c.add_argument("--minimize", action="store_true", help="minimise the objective instead")
    c.add_argument("--report", help="the column reported for each run's pick (default: objective)")
    c.add_argument("--strategies", default="random,evolution",
                   help="comma-separated strategies, each a name or NAME:KEY=VALUE[:KEY=VALUE], "
                   "optionally with @PRUNER to stop trials early on the table's fewer-epoch "
                   "columns (e.g. random,reinforce:lr=0.01,evolution@asha:min_resource=12; "
                   "default: random,evolution)")
    budget = c.add_mutually_exclusive_group()
    budget.add_argument("--budget", type=int, default=100, help="queries per run (default: 100)")
    budget.add_argument("--budget-epochs", type=int, metavar="N",
                        help="training epochs per run instead: a query of a METRIC_<K>ep "
                        "objective costs K, a stopped trial the epochs it got")
    c.add_argument("--seeds", type=int, default=20, help="runs per strategy (default: 20)")
    c.add_argument("--mnas-target", type=float, metavar="T",
                   help="maximise the MnasNet reward ACC x (LAT/T)^w, ACC being --objective")
    c.add_argument("--mnas-latency", metavar="COLUMN", help="the reward's latency column")
    c.add_argument("--mnas-constraint", choices=("soft", "hard"), default="soft",
                   help="soft: w = -0.07 (default); hard: w = 0 under T, -1 over it")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.add_argument("--plot", help="write the curves to this PNG file")
    g = c.add_argument_group("training-free proxies (for naswot and NAME:screen=K specs)")
    g.add_argument("--dataset", help="the table's dataset, whose minibatch the proxy reads")
    g.add_argument("--data-dir", help="folder holding the dataset files")
    g.add_argument("--image-size", type=int,
                   help="resize images to this side (default: the table's recipe)")
    g.add_argument("--batch-size", type=int, default=128, help="proxy minibatch (default: 128)")
    c.set_defaults(handler=run_compare)

    b = sub.add_parser("build", help="build a table: train every distinct architecture",
                       description="Train every distinct architecture of a space (or a seeded "
                       "sample) with one recipe and write a table. Rerun the same command to "
                       "resume after a kill or a --timeout; finished rows are never redone.")
    b.add_argument("--out", required=True, help="the table to write (e.g. tables/x.csv.gz)")
    b.add_argument("--space", default="nb201", help="search space (default: nb201)")
    b.add_argument("--channels", type=int, default=16, help="channels of the first stage")
    b.add_argument("--cells", type=int, default=1, help="cells per stage (default: 1)")
    b.add_argument("--dataset", default="digits", help="dataset (default: digits)")
    b.add_argument("--data-dir", help="folder holding the dataset files")
    b.add_argument("--val-fraction", type=float, default=0.2, help="validation share (default: 0.2)")
    b.add_argument("--n-train", type=int, help="train on a stratified subset of this size")
    b.add_argument("--image-size", type=int, help="resize images to this side")
    b.add_argument("--epochs", type=int, default=4, help="training epochs (default: 4)")
    b.add_argument("--fidelities", help="comma-separated epochs recorded as columns (default: all)")
    b.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    b.add_argument("--lr", type=float, default=0.1, help="initial learning rate (default: 0.1)")
    b.add_argument("--weight-decay", type=float, default=5e-4, help="weight decay (default: 5e-4)")
    b.add_argument("--seed", type=int, default=0, help="seed of split, order and training")
    b.add_argument("--sample", type=int, help="build only a seeded sample of this many")
    b.add_argument("--workers", type=int, default=1, help="training processes (default: 1)")
    b.add_argument("--oversubscribe", action="store_true",
                   help="start --workers x --threads torch threads even when that is far "
                        "above this machine's cores (refused otherwise)")
    b.add_argument("--threads", type=int, default=1, help="torch threads per worker (default: 1)")
    b.add_argument("--timeout", type=float, help="stop starting rows after this many seconds")
    b.set_defaults(handler=run_build)

    q = sub.add_parser("quality", help="spread, fidelity agreement and noise of a table",
                       description="Figures of merit of a table built by 'bench build'.")
    q.add_argument("table", metavar="TABLE", help="the table")
    q.add_argument("--column", help="reference accuracy column (default: the last fidelity)")
    q.add_argument("--noise", metavar="TABLE2", help="the same recipe with another seed (a sample)")
    q.add_argument("--space", help="the table's space (default: from its metadata)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(handler=run_quality)

    x = sub.add_parser("proxies", help="rank agreement of training-free proxies with a table",
                       description="Score a sample of a table's architectures with each "
                       "zero-cost proxy (untrained networks, one minibatch) and print Kendall "
                       "tau and Spearman rho against the table's accuracy, with the seconds "
                       "each proxy costs per architecture.")
    x.add_argument("--table", required=True, help="a table built from real training")
    x.add_argument("--dataset", required=True, help="the table's dataset (its minibatches)")
    x.add_argument("--space", help="the table's space (default: from its metadata)")
    x.add_argument("--sample", type=int, default=1000, help="architectures scored (default: 1000)")
    x.add_argument("--proxies", default=",".join(PROXIES),
                   help=f"comma-separated, from {', '.join(PROXIES)} (default: all)")
    x.add_argument("--column", help="the accuracy column (default: the table's last fidelity)")
    x.add_argument("--batch-size", type=int, default=128, help="minibatch size (default: 128)")
    x.add_argument("--image-size", type=int,
                   help="resize images to this side (default: the table's recipe)")
    x.add_argument("--data-dir", help="folder holding the dataset files")
    x.add_argument("--seed", type=int, default=0, help="seed of the sample and of each network")
    x.add_argument("--threads", type=int, help="torch CPU threads")
    x.add_argument("--json", action="store_true", help="print JSON")
    x.set_defaults(handler=run_proxies)


def run_compare(args: argparse.Namespace) -> int:
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    if not names:
        raise InvalidParameterError("--strategies needs at least one strategy name.")
    for name in names:
        parse_strategy_spec(split_spec(name)[0])  # unknown names fail before any work
    objective: str | Objective = args.objective
    if args.mnas_target is not None or args.mnas_latency is not None:
        if args.mnas_target is None or args.mnas_latency is None or args.minimize:
            raise InvalidParameterError("The MnasNet reward needs --mnas-target T and "
                                        "--mnas-latency COLUMN, and no --minimize.")
    if args.plot:
        _check_plot_path(args.plot)  # before the runs, whose results a bad path would lose
    table = read_table(args.table)
    if args.mnas_target is not None:  # the reward's accuracy is a fraction, as in search
        make = MnasReward.hard if args.mnas_constraint == "hard" else MnasReward.soft
        objective = make(args.objective, str(args.mnas_latency), args.mnas_target,
                         accuracy_scale_of(table.columns.get(args.objective, [])))
    space = space_of(table, args.space)
    scorer = _scorer(args, table, names)
    by_epochs = args.budget_epochs is not None
    result = compare_strategies(table, space, objective, names,
                                budget=args.budget_epochs if by_epochs else args.budget,
                                unit="epochs" if by_epochs else "queries",
                                seeds=args.seeds, report=args.report or args.objective,
                                direction="minimize" if args.minimize else "maximize",
                                scorer=scorer)
    meets = {name: _meets(result.picks[name], objective) for name in names}
    if args.json:
        out = result.to_json()
        if isinstance(objective, MnasReward):
            out["objective"] = objective.to_json()
            for name in names:
                out["strategies"][name]["picks_meeting_target"] = meets[name]
        print(dumps(out), flush=True)
        if args.plot:  # after the results are out: a failing plot loses nothing
            plot_curves(result, args.plot)
        return 0
    print(f"{result.report} of the architecture picked by {result.objective} after "
          f"{result.budget} {result.unit}, {result.seeds} seeds (table optimum "
          f"{result.optimum:.2f}):")
    width = max(12, *(len(n) for n in names))
    show_trials = by_epochs or any("@" in n for n in names)
    for name in names:
        mean, std = result.final(name)
        meet = f"   {meets[name]}/{result.seeds} picks meet T" if meets[name] is not None else ""
        got = (f"   {np.mean(result.trials[name]):.1f} trials, "
               f"{np.mean(result.pruned[name]):.1f} stopped" if show_trials else "")
        print(f"  {name:<{width}} {mean:8.3f} ± {std:.3f}{meet}{got}   "
              f"({result.seconds[name]:.1f} s)")
    if scorer is not None and len(scorer):
        per = scorer.seconds / len(scorer)
        for name, counts in result.proxy_evaluations.items():
            print(f"  {name}: {np.mean(counts):.0f} architectures scored by {scorer.proxy} per "
                  f"run, {np.mean(counts) * per:.1f} s of scoring ({per:.3f} s each)")
    if isinstance(objective, MnasReward):
        _print_best_meeting(table, objective, result.report)
    if args.plot:
        sys.stdout.flush()
        plot_curves(result, args.plot)
        print(f"curves: {args.plot}", file=sys.stderr)
    return 0


def _check_plot_path(path: str) -> None:
    """Refuse a --plot path that cannot be written, before any run."""
    import os
    from pathlib import Path

    from archsearch._utils.imports import require

    plt = require("matplotlib.pyplot", "plot", backend="Agg")
    target = Path(path)
    parent = target.parent
    if target.is_dir():
        raise InvalidParameterError(f"--plot {path} is a folder; give a file such as "
                                    f"{target / 'curves.png'}.")
    if not parent.is_dir():
        raise InvalidParameterError(f"--plot {path}: the folder {parent} does not exist"
                                    f"{' (it is a file)' if parent.exists() else ''}. Create it "
                                    "or give another path.")
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InvalidParameterError(f"--plot {path}: no permission to write there. Give "
                                    "another path.")
    suffix = target.suffix.lstrip(".").lower()
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if suffix and suffix not in formats:
        raise InvalidParameterError(f"--plot {path}: {target.suffix!r} is not an image format "
                                    f"matplotlib writes; use .png (or {', '.join(sorted(formats))}).")


def _scorer(args: argparse.Namespace, table: Table, specs: list[str]) -> ProxyScorer | None:
    """The proxy scorer the specs need (naswot, NAME:screen=K), on the table's data."""
    parsed = [parse_strategy_spec(split_spec(spec)[0]) for spec in specs]
    wanted = {kwargs.get("proxy", "naswot") for name, kwargs in parsed
              if needs_scorer(name, kwargs)}
    if not wanted:
        return None
    if len(wanted) > 1:
        raise InvalidParameterError(f"One proxy per comparison; the specs ask for "
                                    f"{', '.join(sorted(wanted))}.")
    if not args.dataset:
        raise InvalidParameterError("naswot and screen= rank untrained networks on the table's "
                                    "data: give --dataset (e.g. fashion-mnist).")
    from archsearch.data import load_task

    recipe = table.meta.get("recipe", {})
    image_size = args.image_size if args.image_size is not None else recipe.get("image_size")
    task = load_task(args.dataset, data_dir=args.data_dir, image_size=image_size)
    return ProxyScorer(task, wanted.pop(), batch_size=args.batch_size, device="cpu")


def _meets(picks: list[dict[str, float]], objective: str | Objective) -> int | None:
    """How many picks meet the latency target of a MnasNet reward (None for other objectives)."""
    if not isinstance(objective, MnasReward):
        return None
    return sum(p.get(objective.latency, math.inf) <= objective.target for p in picks)


def _print_best_meeting(table: Table, objective: MnasReward, report: str) -> None:
    """The most accurate architecture of the whole table that meets the target."""
    acc = np.asarray(table.columns[objective.accuracy], dtype=float)
    lat = np.asarray(table.columns[objective.latency], dtype=float)
    ok = np.flatnonzero(lat <= objective.target)
    if not len(ok):
        print(f"no architecture of the table meets {objective.latency} <= {objective.target:g}")
        return
    best = ok[np.nanargmax(acc[ok])]
    reported = float(np.asarray(table.columns[report], dtype=float)[best])
    print(f"most accurate by {objective.accuracy} with {objective.latency} <= "
          f"{objective.target:g} in the table ({len(ok)} of {len(lat)} rows meet it): "
          f"{report} {reported:.3f}, {objective.latency} {lat[best]:.3f}, {table.archs[best]}")


def run_build(args: argparse.Namespace) -> int:
    fidelities = tuple(_ints(args.fidelities, "--fidelities")) if args.fidelities else ()
    recipe = BuildRecipe(
        space=args.space, space_config={"channels": args.channels, "cells_per_stage": args.cells},
        dataset=args.dataset, val_fraction=args.val_fraction, n_train=args.n_train,
        image_size=args.image_size, seed=args.seed, sample=args.sample, fidelities=fidelities,
        train=TrainConfig(n_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          weight_decay=args.weight_decay))
    bars: list[Any] = []
    counts = [0, 0]

    def progress(done: int, total: int) -> None:
        if not bars:  # created at the first report so a resumed build's ETA counts new rows only
            bars.append(tqdm(total=total, initial=done, unit="arch", file=sys.stderr,
                             dynamic_ncols=True, smoothing=0.05))
        bars[0].update(done - bars[0].n)
        counts[:] = [done, total]

    check_pool_size(args.workers, args.threads, args.oversubscribe,
                    names=("--workers", "--threads", "--oversubscribe"))
    start = time.perf_counter()
    try:
        out = build_table(recipe, args.out, workers=args.workers, threads_per_worker=args.threads,
                          data_dir=args.data_dir, timeout=args.timeout, progress=progress,
                          oversubscribe=args.oversubscribe)
    finally:
        for bar in bars:
            bar.close()
    done, total = counts
    if done >= total:
        print(f"table of {done} architectures written to {out} "
              f"({time.perf_counter() - start:.0f} s in this run)")
    else:
        print(f"{done} of {total} architectures done; run the same command again to go on.")
    return 0


def run_quality(args: argparse.Namespace) -> int:
    table = read_table(args.table)
    table.index(space_of(table, args.space))
    other = None
    if args.noise:
        other = read_table(args.noise)
        other.index(space_of(other, args.space))
    q = table_quality(table, args.column, other)
    if args.json:
        print(dumps(q.to_json()))
        return 0
    s = q.spread
    print(f"{args.table}: {q.rows} rows; {q.column} (percent)")
    print(f"  spread   min {s['min']:.2f}  p10 {s['p10']:.2f}  median {s['median']:.2f}  "
          f"p90 {s['p90']:.2f}  max {s['max']:.2f}  std {s['std']:.2f}")
    for name, agree in q.fidelities.items():
        print(f"  {name:<14} vs {q.column}: Kendall tau {agree['kendall_tau']:.3f}, "
              f"Spearman rho {agree['spearman_rho']:.3f}")
    if q.noise:
        n = q.noise
        print(f"  seed noise on {n['rows']} rows: Kendall tau {n['kendall_tau']:.3f}, Spearman rho "
              f"{n['spearman_rho']:.3f}, mean |difference| {n['mean_abs_diff']:.2f} points")
    return 0


def _ints(text: str, flag: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidParameterError(f"{flag} must be comma-separated integers. Got {text!r}.") from None


def run_proxies(args: argparse.Namespace) -> int:
    from archsearch.benchmarks.proxies import proxy_correlations
    from archsearch.data import load_task

    if args.threads is not None:
        torch.set_num_threads(max(1, args.threads))
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    table = read_table(args.table)
    space = space_of(table, args.space)
    table.index(space)
    column = args.column or table_quality(table).column
    recipe = table.meta.get("recipe", {})
    image_size = args.image_size if args.image_size is not None else recipe.get("image_size")
    task = load_task(args.dataset, data_dir=args.data_dir, image_size=image_size, seed=args.seed)
    bar = tqdm(total=min(args.sample, len(table)), unit="arch", file=sys.stderr,
               dynamic_ncols=True, disable=None)
    try:
        report = proxy_correlations(table, space, task, sample=args.sample, column=column,
                                    proxies=proxies, seed=args.seed, batch_size=args.batch_size,
                                    progress=lambda done, total: bar.update(done - bar.n))
    finally:
        bar.close()
    if args.json:
        print(dumps(report.to_json()))
        return 0
    print(f"{report.n} architectures of {args.table}, against {column} "
          f"(batch {args.batch_size}, {torch.get_num_threads()} threads):")
    print(f"  {'proxy':<10} {'Kendall tau':>11} {'Spearman rho':>12} {'s/arch':>8}")
    for p in proxies:
        print(f"  {p:<10} {report.kendall_tau[p]:11.3f} {report.spearman_rho[p]:12.3f} "
              f"{report.seconds_per_arch[p]:8.4f}")
    return 0
