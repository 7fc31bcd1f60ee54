"""The pool backend: worker processes on this machine, each with its own torch threads.

Each worker is a spawned process with a pipe of its own to the driver, so a worker that
dies (SIGKILL, the out-of-memory killer) takes nothing else with it: the driver sees its
process end, records the trial as lost, and starts a new worker in its place. A trial
over its time limit is stopped by killing its worker the same way. Workers exit when the
driver goes away (their pipe closes) and ignore Ctrl-C, which the driver handles.

With pruning, a worker waits after each report for the driver's decision on its pipe; if
the driver is gone, the wait ends with the pipe and the worker exits.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from archsearch._utils.validation import check_float, check_int
from archsearch.backends.base import Backend, Job, Outcome, ReportFn, describe_exit, run_job
from archsearch.errors import BackendError
from archsearch.evaluators.base import Evaluator
from archsearch.spaces.base import SearchSpace
from archsearch.types import TrialState

__all__ = ["PoolBackend", "default_threads"]


def default_threads(workers: int) -> int:
    """Torch threads per worker so that workers x threads fits this machine's cores."""
    return max(1, (os.cpu_count() or 1) // workers)


@dataclass
class _Worker:
    process: Any
    conn: Connection
    job: Job | None = None
    started: float | None = None  # when the worker began the job (after its start-up)
    ready: bool = False  # the worker has started up (imported, set up its evaluator)


class PoolBackend(Backend):
    """Run evaluations in ``workers`` local processes.

    Args:
        workers: processes running at once.
        threads: torch threads of each (default: the cores shared out, at least 1).
        trial_timeout: seconds after which a trial's worker is killed and the trial
            recorded as failed.

    Example:
        >>> PoolBackend(workers=2, threads=1).describe()
        'pool of 2 workers (1 torch thread each)'
    """

    name = "pool"

    def __init__(self, workers: int = 2, threads: int | None = None,
                 trial_timeout: float | None = None) -> None:
        check_int("PoolBackend", "workers", workers, 1)
        if threads is not None:
            check_int("PoolBackend", "threads", threads, 1)
        if trial_timeout is not None:
            check_float("PoolBackend", "trial_timeout", trial_timeout, 0.0, low_open=True)
        self.capacity = workers
        self.threads = threads or default_threads(workers)
        self.trial_timeout = trial_timeout
        self._workers: list[_Worker] = []

    def describe(self) -> str:
        s = "" if self.threads == 1 else "s"
        return f"pool of {self.capacity} workers ({self.threads} torch thread{s} each)"

    def start(self, space: SearchSpace, evaluator: Evaluator, report: ReportFn,
              pruning: bool = False) -> None:
        self.close()
        self._ctx = mp.get_context("spawn")
        self._payload = (space, evaluator, self.threads, os.getpid(), pruning)
        self.pruning = pruning
        self.report = report
        self._workers = [self._spawn() for _ in range(self.capacity)]

    def _spawn(self) -> _Worker:
        ours, theirs = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(theirs, *self._payload),
                                    daemon=True, name="archsearch-worker")
        process.start()
        theirs.close()
        return _Worker(process, ours)

    def submit(self, job: Job) -> None:
        worker = next(w for w in self._workers if w.job is None)
        worker.job, worker.started = job, None
        try:
            worker.conn.send(job)
        except (BrokenPipeError, OSError):
            pass  # the worker is gone: the next poll reports the trial lost

    def poll(self, timeout: float) -> list[Outcome]:
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            return []
        started = [w.started for w in busy if w.started is not None]
        if self.trial_timeout is not None and started:
            due = min(started) + self.trial_timeout - time.monotonic()
            timeout = max(0.0, min(timeout, due))
        wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
        outcomes: list[Outcome] = []
        for i, worker in enumerate(self._workers):
            if worker.job is None:
                continue
            done = self._drain(worker)
            if done is not None:
                outcomes.append(done)
                worker.job = None
            elif not worker.process.is_alive():
                worker.process.join()
                if not worker.ready:
                    self.close()
                    raise BackendError(
                        f"A pool worker died while starting "
                        f"({describe_exit(worker.process.exitcode)}; its error is above). From "
                        "a script, guard the search with if __name__ == '__main__':.")
                outcomes.append(self._lost(worker, f"worker process died "
                                           f"({describe_exit(worker.process.exitcode)})"))
                self._workers[i] = self._spawn()
            elif (self.trial_timeout is not None and worker.started is not None
                  and time.monotonic() - worker.started >= self.trial_timeout):
                self._stop(worker)
                lost = self._lost(worker, f"stopped after the time limit of "
                                  f"{self.trial_timeout:g} s")
                lost.lost = False  # its own doing: not retried
                outcomes.append(lost)
                self._workers[i] = self._spawn()
        return outcomes

    def _drain(self, worker: _Worker) -> Outcome | None:
        """Deliver the worker's reports; its outcome if it has finished."""
        try:
            while worker.conn.poll():
                kind, *message = worker.conn.recv()
                if kind == "ready":
                    worker.ready = True
                elif kind == "start":
                    worker.started = time.monotonic()
                elif kind == "report":
                    decision = self.report(*message)
                    if self.pruning:
                        worker.conn.send(bool(decision))
                else:
                    outcome: Outcome = message[0]
                    return outcome
        except (EOFError, OSError):
            pass  # the worker died mid-message: reported as lost
        return None

    def _lost(self, worker: _Worker, reason: str) -> Outcome:
        assert worker.job is not None
        seconds = 0.0 if worker.started is None else time.monotonic() - worker.started
        outcome = Outcome(worker.job.trial_id, TrialState.FAILED, error=reason, lost=True,
                          seconds=seconds)
        worker.job = None
        return outcome

    @staticmethod
    def _stop(worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()

    def close(self) -> None:
        for worker in self._workers:
            try:
                if worker.job is None:
                    worker.conn.send(None)  # finish quietly
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            if worker.job is None:
                worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers = []


def _worker_main(conn: Connection, space: SearchSpace, evaluator: Evaluator, threads: int,
                 parent: int, pruning: bool = False) -> None:
    """A worker: evaluate jobs from the pipe until it closes or says None."""
    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    torch.set_num_threads(threads)
    evaluator.setup(space)
    try:
        conn.send(("ready",))
    except (BrokenPipeError, OSError):
        return
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return

        def reporter(step: int, value: float, trial_id: int = job.trial_id) -> bool:
            conn.send(("report", trial_id, step, value))
            if not pruning:
                return False
            try:
                return bool(conn.recv())  # the driver's decision
            except (EOFError, OSError):
                os._exit(0)  # the driver is gone: nobody is left to record the trial

        try:
            conn.send(("start", job.trial_id))
            outcome = run_job(evaluator, job, reporter, pruning)
            outcome.exception = None  # stays here: it may not pickle
            conn.send(("done", outcome))
        except (BrokenPipeError, OSError):
            return  # the driver is gone
        if os.getppid() != parent:
            return
