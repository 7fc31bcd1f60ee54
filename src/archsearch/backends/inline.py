"""The inline backend: each evaluation runs in the driver's process, one at a time."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from archsearch._utils.validation import check_float
from archsearch.backends.base import Backend, Job, Outcome, ReportFn, run_job
from archsearch.errors import InvalidParameterError, TrialFailed
from archsearch.evaluators.base import Evaluator
from archsearch.spaces.base import SearchSpace

__all__ = ["InlineBackend"]


class _TimeLimit(TrialFailed):
    pass


class InlineBackend(Backend):
    """Evaluate in this process: no start-up cost, intermediate values stored at once.

    Args:
        trial_timeout: seconds after which a trial is stopped and recorded as failed
            (by SIGALRM, so only from the main thread of a Unix process).

    Example:
        >>> InlineBackend().capacity
        1
    """

    name = "inline"
    capacity = 1

    def __init__(self, trial_timeout: float | None = None) -> None:
        if trial_timeout is not None:
            check_float("InlineBackend", "trial_timeout", trial_timeout, 0.0, low_open=True)
        self.trial_timeout = trial_timeout
        self._queue: list[Job] = []

    def start(self, space: SearchSpace, evaluator: Evaluator, report: ReportFn,
              pruning: bool = False) -> None:
        if self.trial_timeout is not None and (
                not hasattr(signal, "setitimer")
                or threading.current_thread() is not threading.main_thread()):
            raise InvalidParameterError("A trial time limit inline needs the main thread of a "
                                        "Unix process; use the pool backend elsewhere.")
        self.evaluator, self.report, self.pruning = evaluator, report, pruning
        self._queue = []

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def poll(self, timeout: float) -> list[Outcome]:
        if not self._queue:
            return []
        job = self._queue.pop(0)

        def reporter(step: int, value: float) -> bool:
            return self.report(job.trial_id, step, value)

        if self.trial_timeout is None:
            return [run_job(self.evaluator, job, reporter, self.pruning)]
        limit = self.trial_timeout

        def stop(signum: int, frame: FrameType | None) -> None:
            raise _TimeLimit(f"stopped after the time limit of {limit:g} s")

        previous = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            outcome = run_job(self.evaluator, job, reporter, self.pruning)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return [outcome]

    def close(self) -> None:
        self._queue = []
