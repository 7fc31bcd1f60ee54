"""``archsearch search``: run (or resume) a search into a run directory.

A run directory holds ``store.db`` (every trial), ``config.json`` (the settings that made
the run) and ``best.json`` (the best architecture and its metrics, a copy for people to read:
``train`` and ``export`` take the best from the store). While a search runs it holds
``store.db.lock``, so a second search (or a training) of the same run is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from archsearch._utils.units import format_flops
from archsearch.backends import Backend, InlineBackend, PoolBackend
from archsearch.backends.pool import check_pool_size, default_threads
from archsearch.cli import _common
from archsearch.errors import InvalidParameterError, StoreError
from archsearch.evaluators import (
    Composite,
    Evaluator,
    LatencyLookup,
    PartialTraining,
    TabularLookup,
    ZeroCostProxies,
)
from archsearch.experiment import Experiment
from archsearch.objectives import MnasReward, MultiObjective, accuracy_scale_of
from archsearch.pruners import Pruner, create_pruner
from archsearch.spaces import SearchSpace
from archsearch.storage import SQLiteStore
from archsearch.storage.lock import StoreLock
from archsearch.strategies import (
    ProxyScorer,
    Strategy,
    build_strategy,
    list_strategies,
    needs_scorer,
    parse_spec,
    parse_strategy_spec,
)
from archsearch.types import FrozenTrial, Objective, TrialState

STORE, CONFIG, BEST = "store.db", "config.json", "best.json"
SEARCH_DEFAULTS: dict[str, Any] = {
    "strategy": "evolution", "population_size": 10, "sample_size": 3, "name": "search",
    "evaluator": "train", "objective": None, "minimize": False, "mnas_target": None,
    "mnas_latency": None, "mnas_constraint": "soft", "latency_table": None, "preset": None,
    "prune": None, "mnas_accuracy_scale": None,
}
# Where and how trials run: may change when a search is resumed.
RUN_DEFAULTS: dict[str, Any] = {"backend": "inline", "workers": None, "ray_address": None,
                                "trial_timeout": None, "max_retries": 2, "final_epochs": None,
                                "budget_epochs": None, "budget_seconds": None}

# Named recipes of the literature: settings a user may still override one by one.
PRESETS: dict[str, dict[str, Any]] = {
    # Zoph & Le (2017): the controller picks, layer by layer, filters (24, 36, 48, 64), kernel
    # (1, 3, 5, 7), stride and which earlier layers feed each one; reward = val accuracy.
    "nas-rl": {"space": "chain", "strategy": "reinforce", "budget": 30, "epochs": 5,
               "space_args": {"depth": 6, "filters": [24, 36, 48, 64],
                              "kernel_sizes": [1, 3, 5, 7], "strides": [1, 2], "skips": True}},
    # Zoph et al. (2018): the controller picks a normal and a reduction cell (the DARTS cell
    # encoding); reward = val accuracy of a small proxy network of those cells trained briefly.
    "nasnet": {"space": "darts", "strategy": "reinforce", "budget": 20, "epochs": 3,
               "channels": 8, "space_args": {"layers": 5}},
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
    p.add_argument("--budget-epochs", type=int, metavar="N",
                   help="total training epochs all trials may spend (a pruned trial counts "
                   "the epochs it got, a complete one all of them); a trial starts only if "
                   "it fits in full, so N is never exceeded. Without --budget, trials are "
                   "not counted")
    p.add_argument("--budget-seconds", type=float, metavar="S",
                   help="total evaluation seconds all trials may spend (two trials running "
                   "at once spend two seconds a second, earlier runs count): no trial starts "
                   "once S are spent, and running ones stop at their next epoch's end, "
                   "recorded as pruned. Without --budget, trials are not counted")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="a named recipe: nas-rl (REINFORCE controller over a layer-by-layer "
                   "chain space) or nasnet (REINFORCE controller over DARTS normal and "
                   "reduction cells, scored on a small proxy network); options given as well "
                   "override the preset's")
    p.add_argument("--strategy", help=f"{', '.join(list_strategies())}, or darts (one-shot: "
                   "trains a supernet, e.g. darts:order=2:perturb=random); settings go after "
                   "the name: NAME:KEY=VALUE[:KEY=VALUE], e.g. reinforce:lr=0.01 "
                   "(default: evolution). naswot:n=N scores N random architectures "
                   "untrained and hands them out best first (--budget K trains the top K); "
                   "screen=K (random, evolution) picks each architecture as the best of K "
                   "proposals by a proxy before training (proxy=NAME, default naswot, on one "
                   "batch of 128; screen_first=N screens only the first N, a warm start). "
                   "'archsearch list strategies' shows every setting and its default")
    p.add_argument("--population-size", type=int, help="evolution: population (default: 10)")
    p.add_argument("--sample-size", type=int, help="evolution: tournament size (default: 3)")
    p.add_argument("--name", help="experiment name in the store (default: search)")
    p.add_argument("--evaluator", help="'train' (partial training, the default), "
                   "'proxy[:P1,P2]' (training-free scores of the untrained network on one "
                   "batch of --batch-size: naswot (default), synflow, snip, grad_norm, grasp, "
                   "fisher, fisher_channel, jacob_cov, "
                   "params, flops; "
                   "the first is the objective) or 'table:PATH' (look architectures up in a "
                   "tabular benchmark)")
    o = p.add_argument_group("objective")
    o.add_argument("--objective", help="the metric to maximise: a table column (required with "
                   "a table) or a metric of the evaluator (default: val_accuracy); several, "
                   "comma-separated (e.g. val_accuracy,latency_ms:min), search for their "
                   "Pareto front (with optuna-nsga2, optuna-tpe or random)")
    o.add_argument("--minimize", action="store_true", default=None,
                   help="minimise --objective instead")
    o.add_argument("--mnas-target", type=float, metavar="T",
                   help="maximise the MnasNet reward ACC x (LAT/T)^w instead, ACC being "
                   "--objective and T this latency target")
    o.add_argument("--mnas-latency", metavar="METRIC",
                   help="the latency in that reward: a table column (e.g. latency_ms_pixel3), "
                   "or with training 'latency_ms' (measured here, the default) or "
                   "'latency_ms_predicted' (from --latency-table)")
    o.add_argument("--mnas-constraint", choices=("soft", "hard"),
                   help="soft: w = -0.07 (default); hard: w = 0 under T, -1 over it")
    o.add_argument("--latency-table", metavar="PATH",
                   help="also predict latency_ms_predicted from this latency table "
                   "(build one with 'archsearch latency-table --dataset ... --out PATH')")
    p.add_argument("--prune", metavar="asha|hyperband[:min_resource=R][:eta=E]",
                   help="stop trials early by asynchronous successive halving over the "
                   "epochs they report: at epochs R, R*E, R*E^2, ... a trial goes on only if "
                   "its validation accuracy is in the best 1/E so far at that epoch "
                   "(defaults R=1, E=3); hyperband hedges over brackets whose first rung is "
                   "R, R*E, ... up to the full epochs. Stopped trials are recorded as pruned "
                   "with the epochs they got. With a table whose "
                   "objective is METRIC_<N>ep, its fewer-epoch columns (e.g. 12 of 200 in "
                   "NB201) are the fidelities: asha:min_resource=12 "
                   "('archsearch list pruners' shows the settings)")
    r = p.add_argument_group("where trials run")
    r.add_argument("--backend", choices=("inline", "pool", "ray"),
                   help="inline: one trial at a time in this process (default); pool: --workers "
                   "local processes; ray: Ray tasks on a cluster (pip install 'archsearch[ray]')")
    r.add_argument("--workers", type=int, help="trials at once (pool default: 2; ray default: "
                   "the cluster's CPUs); --threads is then torch threads per worker (default: "
                   "the cores shared out)")
    r.add_argument("--oversubscribe", action="store_true",
                   help="start a pool of --workers x --threads above 4 a core (refused "
                   "otherwise: each worker is a process that imports torch)")
    r.add_argument("--ray-address", metavar="auto|HOST:PORT",
                   help="join this Ray cluster (default: start a local one on loopback)")
    r.add_argument("--trial-timeout", type=float, metavar="S",
                   help="stop a trial after S seconds and record it as failed")
    r.add_argument("--max-retries", type=int, metavar="N",
                   help="retry an architecture whose worker died up to N times (default: 2)")
    p.add_argument("--final-epochs", type=int, metavar="N",
                   help="then train the best architecture for N epochs on train+val and "
                   "report its test accuracy (as 'archsearch train --run-dir' does)")
    _common.add_space_args(p)
    _common.add_data_args(p)
    _common.add_train_args(p, epochs_default=5)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if args.resume:
        _check_resumable(run_dir)
    with contextlib.ExitStack() as held:  # the run's lock, until the search ends or dies
        return _run(args, run_dir, held)


def _lock(run_dir: Path, held: contextlib.ExitStack) -> None:
    """Take the run directory's lock (creating the directory): one search of a run at a time."""
    _common.make_dir(run_dir, "--run-dir")
    held.enter_context(StoreLock(run_dir / STORE, what="search"))


def _check_resumable(run_dir: Path) -> None:
    """Refuse --resume where no search was started: it would silently start a new one."""
    path = run_dir / STORE
    names: list[str] = []
    if path.is_file() and path.stat().st_size > 0:
        store = SQLiteStore(path, create=False)
        try:
            names = store.experiment_names()
        finally:
            store.close()
    if not names:
        raise StoreError(f"Nothing to resume in {run_dir}: it holds no search "
                         f"({path} {'holds none' if path.is_file() else 'does not exist'}). "
                         "Run the same command without --resume to start one.")


def _run(args: argparse.Namespace, run_dir: Path, held: contextlib.ExitStack) -> int:
    stored = _stored_config(run_dir) if args.resume else None
    spec = args.strategy or (stored or {}).get("strategy") or ""
    if parse_spec(spec)[0] == "darts":  # one-shot: a supernet trained once, not trials
        from archsearch.cli import _oneshot

        _lock(run_dir, held)
        return _oneshot.run(args, stored, STORE, CONFIG, BEST)
    preset = PRESETS[args.preset] if args.preset else {}
    if stored is not None and args.preset and stored.get("preset") != args.preset:
        raise InvalidParameterError(f"{run_dir} holds a search made with preset "
                                    f"{stored.get('preset')!r}, not {args.preset!r}.")
    cfg = _common.resolve(args, stored, {**SEARCH_DEFAULTS, **RUN_DEFAULTS, "budget": 20,
                                         "timeout": None, **preset})
    if stored is not None and "mnas_accuracy_scale" not in stored:
        cfg["mnas_accuracy_scale"] = 1.0  # a run made before the scale was recorded
    if preset.get("space_args") and args.space_args:  # the user's settings refine the preset's
        cfg["space_args"] = {**preset["space_args"], **_common.space_args(args.space_args)}
    budgets = ("budget_epochs", "budget_seconds")
    if any(cfg[b] is not None for b in budgets) and args.budget is None:
        cfg["budget"] = None  # the epochs or seconds are the budget
    if cfg["budget"] is None and cfg["timeout"] is None and all(cfg[b] is None for b in budgets):
        cfg["budget"] = 20
    _common.check_flags(cfg, args)  # before any data is loaded or anything written
    _common.check_metric_names(cfg)
    _common.set_threads(cfg)
    check_final_epochs(cfg)
    backend = _backend(cfg, args.oversubscribe)
    pruner = _pruner(cfg, backend)
    parts = _parts(cfg)  # bad settings fail here, before anything is written
    _check_budgets(cfg, parts[2])
    _lock(run_dir, held)
    store = _common.open_run_store(run_dir, STORE, cfg["name"], args.resume)
    space, strategy, evaluator, extra = parts
    exp = Experiment.create(cfg["name"], space, strategy, evaluator, store=store,
                            seed=cfg["seed"], if_exists="resume" if args.resume else "error",
                            objective=strategy.objective, extra_fingerprint=extra,
                            pruner=pruner)
    _common.write_json(run_dir / CONFIG, cfg)
    _run_with_progress(exp, cfg, backend)
    code = _finish(exp, run_dir)
    if cfg["final_epochs"] is not None:
        code = final_training(run_dir, cfg)
    return code


def _stored_config(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / CONFIG
    if not path.exists():
        return None
    return _common.check_settings(_common.read_json(path, "run configuration"), path)


def _parts(cfg: dict[str, Any]) -> tuple[SearchSpace, Strategy, Evaluator, dict[str, Any]]:
    """The space, strategy and evaluator the settings name, set up and checked."""
    space = _common.build_space(cfg)
    name, strategy_args = parse_strategy_spec(cfg["strategy"])
    if name == "evolution":
        strategy_args = {"population_size": cfg["population_size"],
                         "sample_size": cfg["sample_size"], **strategy_args}
    scorer = None
    if needs_scorer(name, strategy_args):  # ranks untrained networks on the task's data
        scorer = ProxyScorer(_common.build_task(cfg), strategy_args.get("proxy", "naswot"),
                             device=cfg["device"], seed=cfg["seed"])
    strategy = build_strategy(name, strategy_args, scorer)
    evaluator, extra = _evaluator(cfg)
    evaluator.setup(space)
    objective = _objective(cfg, evaluator)
    if isinstance(evaluator, TabularLookup):  # every metric the objective reads is a column
        names = (objective.names if isinstance(objective, MultiObjective) else
                 [getattr(objective, "accuracy", None), getattr(objective, "latency", None)])
        evaluator.check_columns([n for n in names if n])
    strategy.setup(space, objective, cfg["seed"])
    return space, strategy, evaluator, extra


def _objective(cfg: dict[str, Any], evaluator: Evaluator) -> Objective:
    """What the search maximises: one metric, or the MnasNet reward of two."""
    metric = cfg["objective"] or evaluator.objectives[0].name
    if "," in metric:
        if cfg["mnas_target"] is not None or cfg["minimize"]:
            raise InvalidParameterError("Several --objective metrics take their directions as "
                                        "M:max or M:min; no --minimize or --mnas-target.")
        return MultiObjective(*_common.parse_metrics(metric, "--objective"))
    direction: Literal["maximize", "minimize"] = "minimize" if cfg["minimize"] else "maximize"
    if ":" in metric:  # one metric with its direction, e.g. val_loss:min
        ((metric, direction),) = _common.parse_metrics(metric, "--objective")
        if cfg["minimize"] and direction == "maximize":
            raise InvalidParameterError("--minimize contradicts --objective ...:max.")
    if cfg["mnas_target"] is None:
        if cfg["mnas_latency"] is not None:
            raise InvalidParameterError("--mnas-latency needs --mnas-target T.")
        return Objective(metric, direction)
    if direction == "minimize":
        raise InvalidParameterError("--minimize does not go with --mnas-target: the reward "
                                    "maximises accuracy.")
    latency = _latency_metric(cfg)
    if cfg["mnas_target"] <= 0:
        raise InvalidParameterError(f"--mnas-target must be > 0. Got {cfg['mnas_target']}.")
    make = MnasReward.hard if cfg["mnas_constraint"] == "hard" else MnasReward.soft
    if cfg.get("mnas_accuracy_scale") is None:
        cfg["mnas_accuracy_scale"] = _accuracy_scale(evaluator, metric)
    return make(metric, latency, cfg["mnas_target"], cfg["mnas_accuracy_scale"])


def _accuracy_scale(evaluator: Evaluator, metric: str) -> float:
    """0.01 for a table column of percentages, else 1: the reward's accuracy is a fraction
    whatever the evaluator."""
    if isinstance(evaluator, TabularLookup):  # a missing column is refused just after
        return accuracy_scale_of(evaluator._table.columns.get(metric, []))
    return 1.0


def _latency_metric(cfg: dict[str, Any]) -> str:
    if cfg["mnas_latency"]:
        return str(cfg["mnas_latency"])
    if str(cfg["evaluator"]).startswith("table:"):
        raise InvalidParameterError("With a table, --mnas-target needs --mnas-latency COLUMN "
                                    "(e.g. latency_ms_pixel3).")
    return "latency_ms_predicted" if cfg["latency_table"] else "latency_ms"


def _evaluator(cfg: dict[str, Any]) -> tuple[Evaluator, dict[str, Any]]:
    """The evaluator the settings name, and what identifies its data."""
    name = str(cfg["evaluator"])
    if name.startswith("table:"):
        if not cfg["objective"]:
            raise InvalidParameterError("--evaluator table:PATH needs --objective COLUMN.")
        if cfg["latency_table"]:
            raise InvalidParameterError("--latency-table goes with training, not with a table; "
                                        "use a latency column of the table.")
        first = cfg["objective"].split(",")[0].partition(":")[0].strip()
        return TabularLookup(name[len("table:"):], first,
                             "minimize" if cfg["minimize"] else "maximize"), {}
    if name == "proxy" or name.startswith("proxy:"):  # training-free: seconds per trial
        proxies = [p.strip() for p in name.partition(":")[2].split(",") if p.strip()]
        task = _common.build_task(cfg)
        scores = ZeroCostProxies(task, proxies or ["naswot"], batch_size=cfg["batch_size"],
                                 device=cfg["device"])
        return scores, {"dataset": _dataset_identity(cfg)}
    if name != "train":
        raise InvalidParameterError("--evaluator must be 'train', 'proxy[:P1,P2]' or "
                                    f"'table:PATH'. Got {name!r}.")
    task = _common.build_task(cfg)
    measure = (cfg["mnas_target"] is not None and _latency_metric(cfg) == "latency_ms") or \
        "latency_ms" in [m for m, _ in _common.parse_metrics(cfg["objective"] or "x", "--objective")]
    evaluator: Evaluator = PartialTraining(
        task, _common.build_train(cfg), _common.build_augment(cfg, task), device=cfg["device"],
        measure_latency=measure)
    if cfg["latency_table"]:
        evaluator = Composite(evaluator, LatencyLookup(cfg["latency_table"],
                                                        n_classes=task.n_classes,
                                                        input_shape=task.input_shape))
    return evaluator, {"dataset": _dataset_identity(cfg)}


def _dataset_identity(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings that define a search's data, for its fingerprint."""
    dataset = {k: cfg[k] for k in ("dataset", "data_path", "val_fraction", "n_train")}
    if cfg.get("image_size") is not None:  # (absent from runs made before the option)
        dataset["image_size"] = cfg["image_size"]
    return dataset


def _backend(cfg: dict[str, Any], oversubscribe: bool = False) -> Backend:
    """Where the trials run, from --backend, --workers, --ray-address and --trial-timeout."""
    name, workers, limit = cfg["backend"], cfg["workers"], cfg["trial_timeout"]
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise InvalidParameterError(f"--workers must be an int >= 1. Got {workers}.")
    if limit is not None and not limit > 0:
        raise InvalidParameterError(f"--trial-timeout must be > 0 seconds. Got {limit}.")
    if cfg["max_retries"] is None or cfg["max_retries"] < 0:
        raise InvalidParameterError(f"--max-retries must be an int >= 0. Got {cfg['max_retries']}.")
    if cfg["ray_address"] and name != "ray":
        raise InvalidParameterError("--ray-address goes with --backend ray.")
    if name == "inline":
        if workers not in (None, 1):
            raise InvalidParameterError("--workers needs --backend pool or ray; inline runs one "
                                        "trial at a time.")
        return InlineBackend(trial_timeout=limit)
    if name == "pool":
        workers = workers or 2
        check_pool_size(workers, cfg["threads"] or default_threads(workers), oversubscribe,
                        names=("--workers", "--threads", "--oversubscribe"))
        return PoolBackend(workers, threads=cfg["threads"], trial_timeout=limit,
                           oversubscribe=oversubscribe)
    if name == "ray":
        from archsearch.backends.ray import RayBackend

        return RayBackend(workers, address=cfg["ray_address"], threads=cfg["threads"] or 1,
                          trial_timeout=limit)
    raise InvalidParameterError(f"--backend must be inline, pool or ray. Got {name!r}.")


def _check_budgets(cfg: dict[str, Any], evaluator: Evaluator) -> None:
    """--budget-seconds is a positive number; --budget-epochs a positive int the evaluator counts."""
    n = cfg["budget_epochs"]
    seconds = cfg["budget_seconds"]
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not seconds > 0):
        raise InvalidParameterError(f"--budget-seconds must be a number > 0. Got {seconds!r}.")
    if n is None:
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidParameterError(f"--budget-epochs must be an int >= 1. Got {n!r}.")
    if evaluator.max_epochs() is None:
        raise InvalidParameterError("--budget-epochs needs an evaluator that trains for a "
                                    "known number of epochs: train, or a table whose "
                                    "--objective is METRIC_<N>ep. Use --budget instead.")


def _pruner(cfg: dict[str, Any], backend: Backend) -> Pruner | None:
    """The pruner --prune names (None without it), refused where trials cannot be stopped."""
    if not cfg["prune"]:
        return None
    if not backend.supports_pruning:
        raise InvalidParameterError(f"--prune needs a backend that can stop trials; the "
                                    f"{backend.name} backend cannot.")
    return create_pruner(cfg["prune"])


def _run_with_progress(exp: Experiment, cfg: dict[str, Any], backend: Backend) -> None:
    budget, timeout = cfg["budget"], cfg["timeout"]
    done = exp.n_finished()
    if budget is not None and done >= budget:
        print(f"{exp.n_finished()} trials already finished (budget {budget}).", file=sys.stderr)
        return
    bar = tqdm(total=budget, initial=done, unit="trial", file=sys.stderr, dynamic_ncols=True,
               disable=None)
    start = time.monotonic()

    def on_trial(e: Experiment, trial: FrozenTrial) -> None:
        if trial.state.finished:  # (a lost trial that is retried is not)
            bar.update(1)
        best = e.best()  # kept by the experiment: no read of the store
        if best:
            bar.set_postfix(best=f"{best[0].values.get(e.objective.name, float('nan')):.4f}")
        bar.write(_trial_line(trial, e.objective.name, time.monotonic() - start,
                              e.n_finished(), cfg), file=sys.stderr)

    try:
        if backend.name != "inline":
            print(f"running trials on {backend.describe()}", file=sys.stderr)
        exp.run(budget, timeout=timeout, callbacks=[on_trial], backend=backend,
                max_retries=cfg["max_retries"], max_epochs=cfg["budget_epochs"],
                max_seconds=cfg["budget_seconds"])
    finally:
        bar.close()


def _trial_line(trial: FrozenTrial, objective: str, elapsed: float, done: int,
                cfg: dict[str, Any]) -> str:
    """One line per finished trial: its number, how many of the budget are done, what it got."""
    if trial.state is TrialState.COMPLETE:
        v = trial.values
        what = f"{objective}={v.get(objective, float('nan')):.4f}"
        if "params" in v:
            what += f" params={v['params']:,.0f}"
        if "flops" in v:
            what += f" flops={format_flops(v['flops'])}"
    else:
        what = f"{trial.state.value}: {trial.error}"
    if cfg.get("budget") is not None:
        count = f"{done} of {cfg['budget']}"
    elif cfg.get("budget_epochs") is not None:
        count = f"{done}; budget {cfg['budget_epochs']} epochs"
    elif cfg.get("budget_seconds") is not None:
        count = f"{done}; budget {cfg['budget_seconds']:g} s of trials"
    elif cfg.get("timeout") is not None:
        count = f"{done}; until {cfg['timeout']:g} s"
    else:
        count = f"{done}"
    return f"[{elapsed:7.1f}s] trial {trial.number} ({count}) {what} {trial.arch}"


def check_final_epochs(cfg: dict[str, Any]) -> None:
    epochs = cfg.get("final_epochs")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int)
                               or epochs < 1):
        raise InvalidParameterError(f"--final-epochs must be an int >= 1. Got {epochs!r}.")


def final_training(run_dir: Path, cfg: dict[str, Any]) -> int:
    """Train the best architecture to the end, as ``archsearch train --run-dir`` does."""
    from archsearch.cli import train
    from archsearch.cli.main import build_parser

    epochs = cfg["final_epochs"]
    argv = ["train", "--run-dir", str(run_dir), "--epochs", str(epochs)]
    if cfg.get("threads"):
        argv += ["--threads", str(cfg["threads"])]
    print(f"final training of the best architecture: {epochs} epochs", file=sys.stderr)
    return train.run(build_parser().parse_args(argv))


def _finish(exp: Experiment, run_dir: Path) -> int:
    best = exp.best(k=None)
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
    parts = tuple(getattr(exp.objective, m) for m in ("accuracy", "latency")
                  if hasattr(exp.objective, m))  # the inputs of a reward
    shown = ("val_accuracy", "val_loss", "params", "flops", "train_seconds", *parts,
             exp.objective.name)
    for name in dict.fromkeys(shown):
        if name in trial.values:
            value = trial.values[name]
            text = (format_flops(value) if name == "flops" else
                    f"{value:,.0f}" if name == "params" else f"{value:.6g}")
            print(f"  {name:<13} {text}")
    if "val_accuracy" not in trial.values:
        print(f"  {'metrics':<13} {len(trial.values)} (see 'archsearch show {run_dir} --json')")
    if isinstance(exp.objective, MultiObjective):
        print(f"  Pareto front  {len(best)} trials over {', '.join(exp.objective.names)} "
              f"(see 'archsearch show {run_dir}')")
    print(f"  saved         {run_dir / BEST}")
    return 0
