"""The search loop: ask a strategy, evaluate, record in the store, tell the strategy.

The store is the source of truth. A trial row is committed before evaluation and updated
when it ends; whatever happens in between (an exception, Ctrl-C, SIGKILL) leaves a row
that says so. Resuming replays finished trials into a fresh strategy and hands the
architectures of interrupted trials out again, so nothing finished is lost or repeated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from archsearch._utils.seeding import rng_for
from archsearch._utils.validation import check_float, check_int
from archsearch.backends.base import Backend, Job, Outcome
from archsearch.backends.inline import InlineBackend
from archsearch.errors import (
    ArchSearchError,
    FingerprintMismatchError,
    IncompatibleError,
    InvalidParameterError,
)
from archsearch.evaluators.base import Evaluator
from archsearch.objectives import MultiObjective, pareto_front
from archsearch.pruners import Pruner, check_pruner_fits
from archsearch.spaces.base import SearchSpace
from archsearch.storage import Store, open_store
from archsearch.storage.base import DEAD_PROCESS
from archsearch.storage.lock import StoreLock
from archsearch.strategies.base import Strategy
from archsearch.types import Architecture, FrozenTrial, Objective, TrialState

__all__ = ["Experiment", "best_trials", "open_experiment", "seed_for_arch"]

Callback = Callable[["Experiment", FrozenTrial], None]
_MAX_DUPLICATE_ASKS = 50
_MAX_RANDOM_DRAWS = 1000


class Experiment:
    """One search: a space, a strategy, an evaluator and the store that records it.

    Create with :meth:`create`; run with :meth:`run`.

    Example:
        >>> import archsearch
        >>> from archsearch.data import load_task
        >>> from archsearch.training import TrainConfig
        >>> exp = archsearch.Experiment.create(
        ...     "doc", archsearch.create_space("nb201", channels=4, cells_per_stage=1),
        ...     archsearch.create_strategy("random"),
        ...     archsearch.PartialTraining(load_task("digits"), TrainConfig(n_epochs=1)),
        ...     store=":memory:")
        >>> exp.run(n_trials=2)
        >>> len(exp.trials([archsearch.TrialState.COMPLETE]))
        2
    """

    def __init__(self, name: str, space: SearchSpace, strategy: Strategy,
                 evaluator: Evaluator, store: Store, experiment_id: int, seed: int,
                 objective: Objective, pruner: Pruner | None = None) -> None:
        self._pressed: list[int] = []  # Ctrl-C noted during run()
        self.name = name
        self.space = space
        self.strategy = strategy
        self.evaluator = evaluator
        self.store = store
        self.experiment_id = experiment_id
        self.seed = seed
        self.objective = objective
        self._pending: list[Architecture] = []
        trials = store.trials(experiment_id)
        self._seen = {t.key for t in trials if t.state is not TrialState.INTERRUPTED}
        # a row the store could not read counts as failed: it is not replayed or run again
        self._n_finished = sum(t.state.finished for t in trials) + _unreadable(store, experiment_id)
        self._best = best_trials([t for t in trials if t.state is TrialState.COMPLETE],
                                 objective, 1)  # kept up to date as trials end
        self._lock_path: str | None = None  # the store file this experiment opened
        self.pruner = pruner
        self._numbers = {t.id: t.number for t in trials}
        self._max_seconds: float | None = None
        self._seconds_done = 0.0
        self._started: dict[int, float] = {}  # trial id -> start time, while running
        self._out_of_time: set[int] = set()
        if pruner is not None:
            pruner.setup(evaluator.objectives[0].direction, trials, evaluator.max_epochs(),
                         evaluator.report_steps())

    # --- creation and resume ------------------------------------------------------
    @classmethod
    def create(
        cls, name: str, space: SearchSpace, strategy: Strategy, evaluator: Evaluator, *,
        store: str | Store = "runs.db", seed: int = 0,
        if_exists: Literal["error", "resume"] = "error", objective: Objective | None = None,
        extra_fingerprint: dict[str, Any] | None = None,
        pruner: Pruner | None = None,
    ) -> Experiment:
        """Create an experiment, or resume the one of that name.

        Args:
            name: the experiment's name in the store.
            space, strategy, evaluator: the three parts of the search.
            store: a store or a path to an SQLite file (``":memory:"`` for none).
            seed: the seed every trial's randomness derives from.
            if_exists: ``"error"`` refuses an existing name; ``"resume"`` continues it,
                provided its identity settings match.
            objective: what the strategy maximises (default: the evaluator's first).
            extra_fingerprint: further settings that define the run (e.g. the dataset).
            pruner: stops trials early on the values their evaluator reports (e.g. each
                epoch's validation accuracy); a stopped trial is recorded as ``PRUNED``
                with ``values["epochs"]``, the last step it reported.
        """
        check_int("Experiment", "seed", seed, 0)
        if if_exists not in ("error", "resume"):
            raise InvalidParameterError(
                f"The 'if_exists' parameter of Experiment.create must be 'error' or 'resume'. "
                f"Got {if_exists!r} instead.")
        objective = objective or evaluator.objectives[0]
        strategy.bind(evaluator)
        strategy.setup(space, objective, seed)
        evaluator.setup(space)
        if pruner is not None:
            check_pruner_fits(pruner, evaluator.objectives[0].direction,
                              evaluator.report_steps(), evaluator.max_epochs())
        # a store opened by path is locked while this experiment writes it (here, and in
        # run): another process's search of it is refused, not interleaved
        own = str(store) if isinstance(store, (str, Path)) and str(store) != ":memory:" else None
        with _locked(own):
            db = open_store(store)
            fingerprint = {
                "space": {"name": space.name, **space.config()},
                "strategy": strategy.config(), "evaluator": evaluator.config(),
                "objective": objective.to_json(),
                "seed": seed, **(extra_fingerprint or {}),
            }
            if pruner is not None:  # absent when unused, so older runs resume unchanged
                fingerprint["pruner"] = pruner.config()
            experiment_id, resumed = open_experiment(db, name, fingerprint, if_exists)
            exp = cls(name, space, strategy, evaluator, db, experiment_id, seed, objective,
                      pruner)
            exp._lock_path = own
            if resumed:
                exp._replay()
        return exp

    def _replay(self) -> None:
        """Rebuild strategy state from the store; queue interrupted architectures."""
        self.store.mark_interrupted(self.experiment_id)
        trials = self.store.trials(self.experiment_id)
        done = {t.key for t in trials if t.state.finished}
        for trial in trials:
            if trial.state.finished:
                self.strategy.tell(trial)
        queued: set[str] = set()
        for trial in trials:
            if trial.state is TrialState.INTERRUPTED and trial.key not in done | queued:
                queued.add(trial.key)
                try:
                    self._pending.append(self.space.parse(trial.arch))
                except ArchSearchError as err:  # a row altered by hand: not run again
                    print(f"archsearch: warning: trial {trial.number} of {self.name!r} has an "
                          f"architecture this space cannot read ({err}); it is not run again.",
                          file=sys.stderr)

    # --- the loop -----------------------------------------------------------------
    def run(
        self, n_trials: int | None = None, *, timeout: float | None = None,
        catch: tuple[type[BaseException], ...] = (Exception,),
        callbacks: Sequence[Callback] = (), backend: Backend | None = None,
        max_retries: int = 2, max_epochs: int | None = None, max_seconds: float | None = None,
    ) -> None:
        """Run trials until ``n_trials`` have finished in total, or ``timeout`` seconds pass.

        Args:
            n_trials: the total number of finished trials wanted (earlier runs count).
            timeout: wall-clock seconds for this call; trials under way are completed.
            catch: exceptions recorded as a failed trial; others are recorded, then raised
                (inline only: other backends record every error).
            callbacks: called with (experiment, trial) after each trial ends.
            backend: where evaluations run (default: inline, one at a time). With a pool
                or a cluster, up to ``backend.capacity`` trials run at once, and the
                strategy is asked again as each one ends.
            max_retries: how many times an architecture whose worker died (a lost trial)
                is tried again, each time as a new trial; a lost trial that is retried is
                recorded as interrupted and does not count against ``n_trials``.
            max_epochs: the training epochs all trials may spend together, earlier runs
                included (see :meth:`epochs_spent`). A trial starts only if it would fit
                even trained in full beside those running, so the total is never exceeded.
            max_seconds: the evaluation seconds all trials may spend together, earlier runs
                included (see :meth:`seconds_spent`; N trials running at once spend N
                seconds a second). No trial starts once they are spent, and a running trial
                stops at its next report (an epoch's end), recorded as pruned with the
                epochs it got; so the total is exceeded by at most one report's worth per
                running trial (a whole trial on a backend that cannot stop trials).
        """
        if n_trials is not None:
            check_int("Experiment.run", "n_trials", n_trials, 1)
        if timeout is not None:
            check_float("Experiment.run", "timeout", timeout, 0.0, low_open=True)
        check_int("Experiment.run", "max_retries", max_retries, 0)
        if max_seconds is not None:
            check_float("Experiment.run", "max_seconds", max_seconds, 0.0, low_open=True)
        full = self._full_epochs(max_epochs)
        if n_trials is not None and self.n_finished() >= n_trials:
            return  # nothing to run: no workers to start
        spent = self.epochs_spent() if max_epochs is not None else 0
        if max_epochs is not None and spent + full > max_epochs:
            return
        self._seconds_done = self.seconds_spent() if max_seconds is not None else 0.0
        if max_seconds is not None and self._seconds_done >= max_seconds:
            return
        with _locked(self._lock_path), _ctrl_c_never_lost() as pressed:
            self._pressed = pressed
            self._run(n_trials, timeout, catch, callbacks, backend, max_retries, max_epochs,
                      max_seconds, full, spent)

    def _run(self, n_trials: int | None, timeout: float | None,
             catch: tuple[type[BaseException], ...], callbacks: Sequence[Callback],
             backend: Backend | None, max_retries: int, max_epochs: int | None,
             max_seconds: float | None, full: int, spent: int) -> None:
        self._max_seconds = max_seconds
        backend = backend if backend is not None else InlineBackend()
        start = time.monotonic()
        running: dict[int, tuple[FrozenTrial, Architecture]] = {}
        retries: list[Architecture] = []
        attempts: dict[str, int] = {}
        stoppable = max_seconds is not None and backend.supports_pruning
        if self.pruner is not None or stoppable:
            backend.start(self.space, self.evaluator, self._report, pruning=True)
        else:
            backend.start(self.space, self.evaluator, self._report)
        try:
            while True:
                while (len(running) < backend.capacity
                       and (n_trials is None or self.n_finished() + len(running) < n_trials)
                       and (max_epochs is None or spent + full * (len(running) + 1) <= max_epochs)
                       and (max_seconds is None or self._seconds_now() < max_seconds)
                       and (timeout is None or time.monotonic() - start < timeout)):
                    arch = retries.pop(0) if retries else self._ask()
                    trial = self.store.start_trial(self.experiment_id, arch)
                    self._numbers[trial.id] = trial.number
                    self._started[trial.id] = time.time()
                    self._seen.add(arch.key)
                    running[trial.id] = (trial, arch)
                    backend.submit(Job(trial.id, trial.number, arch,
                                       seed_for_arch(self.seed, arch.key)))
                if not running:
                    return
                for outcome in backend.poll(timeout=1.0):
                    self._raise_if_pressed()
                    trial, arch = running.pop(outcome.trial_id)
                    if outcome.lost and attempts.get(arch.key, 0) < max_retries:
                        # retried: not finished, so it spends none of the budget of trials
                        attempts[arch.key] = attempts.get(arch.key, 0) + 1
                        retries.append(arch)
                        finished = self.store.finish_trial(
                            trial.id, TrialState.INTERRUPTED, None,
                            f"{outcome.error or 'worker lost'}; retried as a new trial")
                    else:
                        finished = self._record(trial, outcome)
                    self._started.pop(trial.id, None)
                    self._seconds_done += self.seconds_of(finished)
                    spent += self.epochs_of(finished)
                    if outcome.exception is not None and not isinstance(outcome.exception, catch):
                        raise outcome.exception
                    for callback in callbacks:
                        callback(self, finished)
                self._raise_if_pressed()
        except BaseException as err:
            why = ("interrupted by the user" if isinstance(err, (KeyboardInterrupt, SystemExit))
                   else f"the search stopped: {err!r}")
            for trial, _ in running.values():
                self.store.finish_trial(trial.id, TrialState.INTERRUPTED, None, why)
            raise
        finally:
            self._started.clear()
            self._max_seconds = None
            backend.close()

    def _raise_if_pressed(self) -> None:
        if self._pressed:
            raise KeyboardInterrupt

    def _full_epochs(self, max_epochs: int | None) -> int:
        """Epochs one full trial costs, checked when a budget of epochs is given."""
        if max_epochs is None:
            return 0
        check_int("Experiment.run", "max_epochs", max_epochs, 1)
        full = self.evaluator.max_epochs()
        if full is None:
            raise IncompatibleError(
                f"A budget of epochs needs an evaluator that trains for a known number of "
                f"epochs (train, or a table whose objective is METRIC_<N>ep); "
                f"{self.evaluator.name!r} is not. Use a budget of trials instead.")
        return full

    def epochs_of(self, trial: FrozenTrial) -> int:
        """Epochs ``trial`` cost: all of them if complete, else those it reported."""
        if trial.state is TrialState.COMPLETE:
            return self.evaluator.max_epochs() or 0
        if "epochs" in trial.values:
            return int(trial.values["epochs"])
        return max(trial.intermediate, default=0)

    def epochs_spent(self) -> int:
        """Training epochs the experiment's trials have cost so far (what the user paid).

        A complete trial costs the evaluator's full epochs, a pruned one the epochs it got,
        a failed or interrupted one the last epoch it reported.
        """
        return sum(self.epochs_of(t) for t in self.trials() if t.state is not TrialState.RUNNING)

    @staticmethod
    def seconds_of(trial: FrozenTrial) -> float:
        """Evaluation seconds ``trial`` cost: from its start to its end.

        A trial whose process died counts nothing: when it stopped is not known.
        """
        if trial.error == DEAD_PROCESS:
            return 0.0
        return trial.duration_s or 0.0

    def seconds_spent(self) -> float:
        """Evaluation seconds the experiment's finished trials have cost (see :meth:`seconds_of`)."""
        return sum(self.seconds_of(t) for t in self.trials() if t.state.finished
                   or t.state is TrialState.INTERRUPTED)

    def _seconds_now(self) -> float:
        """Seconds spent by finished trials and, so far, by running ones."""
        now = time.time()
        return self._seconds_done + sum(now - t for t in self._started.values())

    def _report(self, trial_id: int, step: int, value: float) -> bool:
        """Store an intermediate value; whether its trial stops there (pruned or out of time)."""
        self.store.report(trial_id, step, value)
        if self.pruner is not None and self.pruner.should_prune(step, value,
                                                                self._numbers[trial_id]):
            return True
        if self._max_seconds is not None and self._seconds_now() >= self._max_seconds:
            self._out_of_time.add(trial_id)
            return True
        return False

    def n_finished(self) -> int:
        """How many trials have finished (complete, pruned or failed)."""
        return self._n_finished

    def _ask(self) -> Architecture:
        """The next architecture: an interrupted one first, else the strategy's next new one.

        A strategy that keeps proposing architectures already evaluated (a converged
        controller, a small space) is asked a bounded number of times; then a random unseen
        architecture is taken, and only a space with none left repeats one.
        """
        if self._pending:
            return self._pending.pop(0)
        seen = self._seen
        rng = rng_for(self.seed, len(seen))
        for _ in range(_MAX_DUPLICATE_ASKS):
            arch = self.strategy.ask(rng)
            if arch.key not in seen:
                return arch
        for _ in range(_MAX_RANDOM_DRAWS):
            arch = self.space.sample(rng)
            if arch.key not in seen:
                return arch
        return arch  # the space is exhausted (or nearly): a repeat is allowed

    def _record(self, trial: FrozenTrial, outcome: Outcome) -> FrozenTrial:
        """Store how a trial ended; a result the objective cannot score is a failure."""
        if outcome.state is TrialState.PRUNED:
            steps = self.store.trial(trial.id).intermediate
            values = {"epochs": float(max(steps))} if steps else {}
            error = outcome.error
            if trial.id in self._out_of_time:
                error = f"{error or 'stopped'}: the budget of {self._max_seconds:g} seconds was spent"
            return self._finish(trial, outcome.state, values, error)
        if outcome.state is not TrialState.COMPLETE:
            return self._finish(trial, outcome.state, {}, outcome.error)
        values = outcome.values
        score = self.objective.score(values)
        if score is None or not math.isfinite(score):
            name = _unscored_metric(self.objective, values)
            return self._finish(trial, TrialState.FAILED, values,
                                f"objective {name!r} is {values.get(name)}")
        if self.objective.name not in values:  # a derived objective (a reward) is kept too
            values = {**values, self.objective.name: score if self.objective.direction ==
                      "maximize" else -score}
        return self._finish(trial, TrialState.COMPLETE, values, None)

    def _finish(self, trial: FrozenTrial, state: TrialState, values: dict[str, float],
                error: str | None) -> FrozenTrial:
        finished = self.store.finish_trial(trial.id, state, values, error)
        self._n_finished += 1
        if state is TrialState.COMPLETE and not isinstance(self.objective, MultiObjective):
            self._best = best_trials([*self._best, finished], self.objective, 1)
        self.strategy.tell(finished)
        return finished

    # --- results --------------------------------------------------------------------
    def trials(self, states: Sequence[TrialState] | None = None) -> list[FrozenTrial]:
        """The experiment's trials in order."""
        return self.store.trials(self.experiment_id, states)

    def best(self, k: int | None = 1) -> list[FrozenTrial]:
        """The ``k`` best complete trials by the objective (all of them if ``k`` is None).

        For a :class:`~archsearch.objectives.MultiObjective`, the first ``k`` trials of the
        Pareto front (see :func:`best_trials`). The best one alone is kept as trials end,
        so ``best()`` reads nothing from the store.
        """
        if k == 1 and not isinstance(self.objective, MultiObjective):
            return list(self._best)
        return best_trials(self.trials([TrialState.COMPLETE]), self.objective, k)


def _locked(path: str | None) -> StoreLock | contextlib.nullcontext[None]:
    """The store's lock while a search writes it (nothing for a store passed in or in memory)."""
    return StoreLock(path) if path is not None else contextlib.nullcontext()


def seed_for_arch(seed: int, key: str) -> int:
    """The training seed of architecture ``key`` in a run of ``seed`` (63 bits).

    It depends on the architecture, not on the trial that evaluates it, so a retried or
    resumed evaluation scores the same; it is the same in every process (no ``hash()``).
    """
    digest = hashlib.sha256(f"archsearch/{int(seed)}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


def _unreadable(store: Store, experiment_id: int) -> int:
    """How many trial rows of the experiment ``store`` skipped as unreadable."""
    skipped: dict[int, int] = getattr(store, "unreadable", {})  # trial id -> experiment id
    return sum(e == experiment_id for e in skipped.values())


def best_trials(trials: Sequence[FrozenTrial], objective: Objective,
                k: int | None = 1) -> list[FrozenTrial]:
    """The ``k`` best of ``trials`` by ``objective`` (ties: the earlier trial first).

    ``k=None`` keeps them all. For a :class:`~archsearch.objectives.MultiObjective`, only
    trials of the Pareto front over its metrics qualify, ordered best-first by the first
    metric, so fewer than ``k`` may come back.
    """
    if isinstance(objective, MultiObjective):
        return pareto_front(trials, *objective.metrics)[:k]
    ranked = sorted(trials, key=lambda t: (objective.sort_value(t.values), t.number))
    return ranked[:k]


def _unscored_metric(objective: Objective, values: Mapping[str, float]) -> str:
    """The metric to blame when ``objective`` cannot score ``values``."""
    if isinstance(objective, MultiObjective):
        return next((n for n in objective.names if not math.isfinite(values.get(n, math.nan))),
                    objective.name)
    return objective.name


def open_experiment(store: Store, name: str, fingerprint: Mapping[str, Any],
                    if_exists: Literal["error", "resume"]) -> tuple[int, bool]:
    """The id of experiment ``name`` in ``store`` and whether it existed (to be resumed).

    A new name is created with ``fingerprint``; an existing one raises
    ExperimentExistsError unless ``if_exists="resume"``, and then its stored fingerprint
    must equal this one (FingerprintMismatchError names the first setting that differs).
    """
    found = store.find_experiment(name)
    if found is None or if_exists == "error":
        return store.create_experiment(name, fingerprint), False
    experiment_id, stored = found
    _check_same(name, _jsonable(stored), _jsonable(fingerprint))
    return experiment_id, True


def _jsonable(value: Any) -> Any:
    """Normalise tuples to lists and the like, as a JSON round trip would."""
    return json.loads(json.dumps(value, sort_keys=True))


def _check_same(name: str, stored: Any, now: Any, path: str = "") -> None:
    """Raise FingerprintMismatchError naming the first identity setting that differs."""
    if isinstance(stored, dict) and isinstance(now, dict):
        for key in sorted(set(stored) | set(now)):
            where = f"{path}.{key}" if path else key
            if key not in stored or key not in now:
                _mismatch(name, where, stored.get(key, "<unset>"), now.get(key, "<unset>"))
            _check_same(name, stored[key], now[key], where)
    elif stored != now:
        _mismatch(name, path, stored, now)


def _mismatch(name: str, path: str, was: Any, now: Any) -> None:
    raise FingerprintMismatchError(
        f"Cannot resume {name!r}: {path} was {was!r}, now {now!r}. Identity settings must "
        "match; use a new name or run directory to search with other settings."
    )


@contextlib.contextmanager
def _ctrl_c_never_lost() -> Iterator[list[int]]:
    """Ctrl-C raises KeyboardInterrupt at once, as usual, and is also noted, so that the search
    loop raises it again at its next check: Python swallows an exception raised while a
    destructor runs (a pipe or a process object collected just then), and a Ctrl-C landing
    there would be lost, leaving the driver waiting on its workers.

    Only in the main thread, and only over Python's own handler (a program's own is kept).
    """
    pressed: list[int] = []
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield pressed
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        pressed.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
