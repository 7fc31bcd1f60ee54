"""Where evaluations run: the backend protocol and the one function every worker runs.

The experiment (the driver) asks the strategy, commits a trial row, and submits a
:class:`Job`; a backend runs it somewhere and hands back an :class:`Outcome`, passing
intermediate values to the driver's ``report`` callback as they arrive. Only the driver
writes the store, so workers on
other processes or machines never contend for it, and the strategy sees the same
ask/tell whatever the backend.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from archsearch._utils.log import logger
from archsearch.errors import TrialFailed, TrialPruned
from archsearch.evaluators.base import Evaluator, TrialContext
from archsearch.spaces.base import SearchSpace
from archsearch.types import Architecture, TrialState

__all__ = ["Backend", "Job", "Outcome", "ReportFn", "describe_exit", "run_job"]

ReportFn = Callable[[int, int, float], bool]
"""``report(trial_id, step, value)``: the driver stores an intermediate value and answers
whether the trial should stop there (its pruner's decision)."""


@dataclass(frozen=True)
class Job:
    """One evaluation: a trial's id and number, its architecture and its seed."""

    trial_id: int
    number: int
    arch: Architecture
    seed: int


@dataclass
class Outcome:
    """How a job ended.

    ``lost`` says the worker or node running it died (killed, out of memory, a node that
    left the cluster): the trial is retried (recorded as interrupted, spending no budget) up
    to the run's ``max_retries``, then recorded as failed. ``exception`` is
    the error raised in this process (inline only), so the driver can re-raise it.
    """

    trial_id: int
    state: TrialState
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    lost: bool = False
    seconds: float = 0.0
    exception: BaseException | None = None


def run_job(evaluator: Evaluator, job: Job,
            reporter: Callable[[int, float], bool | None] = lambda step, value: None,
            pruning: bool = False) -> Outcome:
    """Evaluate ``job`` and classify how it ended (what every backend's worker runs).

    KeyboardInterrupt and SystemExit propagate; every other exception is a failed trial.
    """
    ctx = TrialContext(job.number, job.seed, reporter=reporter, pruning=pruning)
    logger.info("trial %d: evaluating %s", job.number, job.arch)
    start = time.perf_counter()
    try:
        values = evaluator.evaluate(job.arch, ctx)
    except TrialPruned as err:
        return Outcome(job.trial_id, TrialState.PRUNED, error=str(err),
                       seconds=time.perf_counter() - start)
    except TrialFailed as err:
        return Outcome(job.trial_id, TrialState.FAILED, error=str(err),
                       seconds=time.perf_counter() - start)
    except Exception as err:  # noqa: BLE001 - recorded as the trial's failure
        return Outcome(job.trial_id, TrialState.FAILED, error=repr(err), exception=err,
                       seconds=time.perf_counter() - start)
    return Outcome(job.trial_id, TrialState.COMPLETE, dict(values),
                   seconds=time.perf_counter() - start)


def describe_exit(code: int | None) -> str:
    """``-9`` -> ``"killed by SIGKILL"``; ``1`` -> ``"exit code 1"``."""
    import signal

    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Backend(ABC):
    """Runs jobs: ``capacity`` at once; :meth:`poll` hands back what has happened.

    The experiment calls :meth:`start` once per run, keeps up to :attr:`capacity` jobs
    submitted, polls for events, and calls :meth:`close` at the end (also on errors).
    """

    name: str = ""
    capacity: int = 1
    supports_pruning: bool = True

    @abstractmethod
    def start(self, space: SearchSpace, evaluator: Evaluator, report: ReportFn,
              pruning: bool = False) -> None:
        """Get ready to evaluate architectures of ``space`` with ``evaluator``.

        ``report(trial_id, step, value)`` is called (in the driver, from :meth:`poll`) with
        each intermediate value of a running trial, before its outcome comes back. With
        ``pruning``, its answer reaches the evaluation as ``ctx.should_prune()`` before the
        evaluation goes on.
        """

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Start ``job`` (there is a free slot: fewer than ``capacity`` are running)."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Outcome]:
        """Events since the last poll, waiting up to ``timeout`` seconds for the first."""

    @abstractmethod
    def close(self) -> None:
        """Stop running jobs and release workers (idempotent)."""

    def describe(self) -> str:
        """A short phrase for messages, e.g. ``"pool of 2 workers"``."""
        return self.name
