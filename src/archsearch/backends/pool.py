"""The pool backend: worker processes on this machine, each with its own torch threads.

Each worker is a process of its own with a pipe of its own to the driver, so a worker that
dies (SIGKILL, the out-of-memory killer) takes nothing else with it: the driver sees its
process end, records the trial as lost, and starts a new worker in its place. A worker
killed while it starts is replaced too, and its job handed to the new one. A trial over
its time limit is stopped by killing its worker the same way. Workers ignore Ctrl-C, which
the driver handles.

Workers never outlive their driver, whatever they are doing. Each starts with a few lines
of the standard library that, before anything else is imported, ask the kernel to kill the
worker when its driver dies (Linux) and start a thread that exits the worker as soon as a
pipe held only by the driver closes or the worker is handed to another parent; only then
is the driver's main module, torch and the evaluator imported. A worker killed with its
driver loses nothing: only the driver writes the store.

Worker counts far above the machine's cores are refused unless ``oversubscribe=True``:
each worker is a process that imports torch (about half a gigabyte of memory), and workers
beyond the cores only wait for them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import time
from dataclasses import dataclass
from multiprocessing import spawn
from multiprocessing.connection import Connection, wait
from multiprocessing.reduction import ForkingPickler

from archsearch._utils.validation import check_float, check_int
from archsearch.backends.base import Backend, Job, Outcome, ReportFn, describe_exit, run_job
from archsearch.errors import BackendError, InvalidParameterError
from archsearch.evaluators.base import Evaluator
from archsearch.spaces.base import SearchSpace
from archsearch.types import TrialState

__all__ = ["PoolBackend", "check_pool_size", "default_threads", "usable_cores"]

THREADS_PER_CORE = 4
"""Torch threads (workers x threads) per core above which a pool is refused by default."""

_GUARD = ("A pool started while a worker imported the main script: guard the search with "
          "if __name__ == '__main__': so that it runs only in the driver.")

# What a worker runs first: the standard library only, so that it watches for its driver's
# death before any slow import. argv: the pipe's fd, the driver's pid, the lifeline's fd.
_BOOTSTRAP = """\
import os, signal, sys
fd, parent, lifeline = (int(a) for a in sys.argv[1:4])
signal.signal(signal.SIGINT, signal.SIG_IGN)
if sys.platform.startswith("linux"):
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass
if os.getppid() != parent:
    os._exit(0)
import select, threading
def _watch():
    while not select.select([lifeline], [], [], 0.5)[0] and os.getppid() == parent:
        pass
    os._exit(0)
threading.Thread(target=_watch, name="archsearch-lifeline", daemon=True).start()
from multiprocessing.connection import Connection
conn = Connection(fd)
try:
    prepare, payload = conn.recv_bytes(), conn.recv_bytes()
except (EOFError, OSError):
    os._exit(0)
from multiprocessing import process, spawn
import pickle
try:  # as multiprocessing's own children: parent_process() and its spawn-guard check
    process._parent_process = process._ParentProcess("MainProcess", parent, lifeline)
except AttributeError:
    pass
process.current_process()._inheriting = True
try:
    spawn.prepare(pickle.loads(prepare))
except BaseException as err:
    import traceback
    traceback.print_exc()
    try:
        conn.send(("error", str(err) or repr(err)))
    finally:
        os._exit(1)
process.current_process()._inheriting = False
from archsearch.backends.pool import _worker_main
_worker_main(conn, payload)
"""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_threads(workers: int) -> int:
    """Torch threads per worker so that workers x threads fits this machine's cores."""
    return max(1, usable_cores() // workers)


def check_pool_size(workers: int, threads: int, oversubscribe: bool = False,
                    names: tuple[str, str, str] = ("workers", "threads", "oversubscribe=True"),
                    ) -> None:
    """Refuse ``workers`` x ``threads`` over :data:`THREADS_PER_CORE` per core, unless told."""
    cores = usable_cores()
    limit = THREADS_PER_CORE * cores
    if oversubscribe or workers * threads <= limit:
        return
    raise InvalidParameterError(
        f"{names[0]} {workers} x {names[1]} {threads} is {workers * threads} torch threads for "
        f"{cores} core{'' if cores == 1 else 's'}; at most {limit} ({THREADS_PER_CORE} a core) "
        f"run by default: each worker is a process that imports torch (about 0.5 GB of "
        f"memory) and workers beyond the cores only wait for them. Use fewer {names[0]} or "
        f"{names[1]}, or {names[2]} to start them all anyway.")


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection
    job: Job | None = None
    started: float | None = None  # when the worker began the job (after its start-up)
    ready: bool = False  # the worker has started up (imported, set up its evaluator)
    gone: bool = False  # its end of the pipe is closed: the process has ended
    error: str | None = None  # why it could not start, in its own words


class PoolBackend(Backend):
    """Run evaluations in ``workers`` local processes.

    Args:
        workers: processes running at once.
        threads: torch threads of each (default: the cores shared out, at least 1).
        trial_timeout: seconds after which a trial's worker is killed and the trial
            recorded as failed.
        oversubscribe: start ``workers`` x ``threads`` above 4 a core (refused otherwise).

    Example:
        >>> PoolBackend(workers=2, threads=1).describe()
        'pool of 2 workers (1 torch thread each)'
    """

    name = "pool"

    def __init__(self, workers: int = 2, threads: int | None = None,
                 trial_timeout: float | None = None, oversubscribe: bool = False) -> None:
        check_int("PoolBackend", "workers", workers, 1)
        if threads is not None:
            check_int("PoolBackend", "threads", threads, 1)
        if trial_timeout is not None:
            check_float("PoolBackend", "trial_timeout", trial_timeout, 0.0, low_open=True)
        if not isinstance(oversubscribe, bool):
            raise InvalidParameterError(f"The 'oversubscribe' parameter of PoolBackend must be "
                                        f"True or False. Got {oversubscribe!r} instead.")
        self.capacity = workers
        self.threads = threads or default_threads(workers)
        check_pool_size(workers, self.threads, oversubscribe)
        self.trial_timeout = trial_timeout
        self._workers: list[_Worker] = []
        self._lifeline: tuple[int, int] | None = None
        self._start_deaths = 0  # workers killed while starting since one last started

    def describe(self) -> str:
        s = "" if self.threads == 1 else "s"
        return f"pool of {self.capacity} workers ({self.threads} torch thread{s} each)"

    def start(self, space: SearchSpace, evaluator: Evaluator, report: ReportFn,
              pruning: bool = False) -> None:
        self.close()
        if getattr(mp.current_process(), "_inheriting", False):
            raise BackendError(_GUARD)
        self._payload = (space, evaluator, self.threads, os.getpid(), pruning)
        self.pruning = pruning
        self.report = report
        self._start_deaths = 0
        self._lifeline = os.pipe()  # the driver holds its write end: EOF when it is gone
        prepare = spawn.get_preparation_data("archsearch-worker")
        prepare["authkey"] = bytes(prepare["authkey"])  # (sent on the worker's own pipe)
        self._prepare = ForkingPickler.dumps(prepare)
        try:
            for _ in range(self.capacity):
                self._workers.append(self._spawn())
        except OSError as err:
            started = len(self._workers)
            self.close()
            raise BackendError(f"Could not start pool worker {started + 1} of "
                               f"{self.capacity}: {err}. Use fewer workers.") from err

    def _spawn(self) -> _Worker:
        assert self._lifeline is not None
        flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
        ours, theirs = mp.Pipe()
        try:
            fds = (theirs.fileno(), self._lifeline[0])
            process = subprocess.Popen(
                [spawn.get_executable(), *flags, "-c", _BOOTSTRAP, str(fds[0]),
                 str(os.getpid()), str(fds[1])],
                pass_fds=fds, stdin=subprocess.DEVNULL)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        worker = _Worker(process, ours)
        try:  # each worker gets its own copy: shared tensors pass once
            ours.send_bytes(self._prepare)
            ours.send_bytes(ForkingPickler.dumps(self._payload))
        except (BrokenPipeError, OSError):
            worker.gone = True  # died already: the next poll replaces it
        return worker

    def submit(self, job: Job) -> None:
        worker = next(w for w in self._workers if w.job is None)
        worker.job, worker.started = job, None
        try:
            worker.conn.send(job)
        except (BrokenPipeError, OSError):
            worker.gone = True  # the next poll reports the trial lost or hands it on

    def poll(self, timeout: float) -> list[Outcome]:
        busy = [w for w in self._workers if w.job is not None]
        if not busy:
            return []
        started = [w.started for w in busy if w.started is not None]
        if self.trial_timeout is not None and started:
            due = min(started) + self.trial_timeout - time.monotonic()
            timeout = max(0.0, min(timeout, due))
        if any(w.gone for w in busy):
            timeout = 0.0
        wait([w.conn for w in busy if not w.gone], timeout)
        outcomes: list[Outcome] = []
        for i, worker in enumerate(self._workers):
            if worker.job is None:
                continue
            done = self._drain(worker)
            if done is not None:
                outcomes.append(done)
                worker.job = None
            elif worker.gone or worker.process.poll() is not None:
                code = self._end(worker)
                if not worker.ready:
                    self._workers[i] = self._replace_starting(worker, code)
                    continue
                outcomes.append(self._lost(worker, f"worker process died "
                                           f"({describe_exit(code)})"))
                self._workers[i] = self._spawn()
            elif (self.trial_timeout is not None and worker.started is not None
                  and time.monotonic() - worker.started >= self.trial_timeout):
                self._end(worker, kill=True)
                lost = self._lost(worker, f"stopped after the time limit of "
                                  f"{self.trial_timeout:g} s")
                lost.lost = False  # its own doing: not retried
                outcomes.append(lost)
                self._workers[i] = self._spawn()
        return outcomes

    def _replace_starting(self, worker: _Worker, code: int | None) -> _Worker:
        """A new worker for one that ended before it started up, given its job; or why not."""
        if worker.error is not None or code is None or code >= 0:
            self.close()
            if worker.error == _GUARD:
                raise BackendError(_GUARD)
            why = worker.error or f"{describe_exit(code)}; its error is above"
            raise BackendError(f"A pool worker died while starting ({why}).")
        self._start_deaths += 1  # killed from outside (the out-of-memory killer, a user)
        if self._start_deaths > self.capacity + 2:
            self.close()
            raise BackendError(
                f"Pool workers keep being killed while starting ({describe_exit(code)}, "
                f"{self._start_deaths} in a row): is the machine out of memory? Each worker is "
                "a process that imports torch; use fewer workers.")
        replacement = self._spawn()
        replacement.job = worker.job  # it never began: the new worker runs it
        try:
            replacement.conn.send(worker.job)
        except (BrokenPipeError, OSError):
            replacement.gone = True
        return replacement

    def _drain(self, worker: _Worker) -> Outcome | None:
        """Deliver the worker's reports; its outcome if it has finished."""
        if worker.gone:
            return None
        try:
            while worker.conn.poll():
                kind, *message = worker.conn.recv()
                if kind == "ready":
                    worker.ready = True
                    self._start_deaths = 0
                elif kind == "error":
                    worker.error = message[0]
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
            worker.gone = True  # the worker died (maybe mid-message): its process has ended
        return None

    def _lost(self, worker: _Worker, reason: str) -> Outcome:
        assert worker.job is not None
        seconds = 0.0 if worker.started is None else time.monotonic() - worker.started
        outcome = Outcome(worker.job.trial_id, TrialState.FAILED, error=reason, lost=True,
                          seconds=seconds)
        worker.job = None
        return outcome

    @staticmethod
    def _end(worker: _Worker, kill: bool = False, wait_s: float = 5.0) -> int | None:
        """Make sure the worker's process has ended (killing it if need be); its exit code."""
        if kill:
            worker.process.kill()
        try:
            code = worker.process.wait(wait_s)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            code = worker.process.wait()
        worker.conn.close()
        worker.gone = True
        return code

    def close(self) -> None:
        for worker in self._workers:
            try:
                if worker.job is None and not worker.gone:
                    worker.conn.send(None)  # finish quietly
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 2.0
        for worker in self._workers:
            patient = worker.job is None and not worker.gone
            self._end(worker, kill=not patient,
                      wait_s=max(0.0, deadline - time.monotonic()) if patient else 5.0)
        self._workers = []
        if self._lifeline is not None:
            for fd in self._lifeline:
                os.close(fd)
            self._lifeline = None


def _worker_main(conn: Connection, payload: bytes) -> None:
    """A worker, once its bootstrap watches its driver: evaluate jobs until the pipe closes."""
    try:
        space, evaluator, threads, parent, pruning = ForkingPickler.loads(payload)
        import torch

        torch.set_num_threads(threads)
        evaluator.setup(space)
    except BaseException as err:  # noqa: BLE001 - told to the driver, which stops the search
        import traceback

        traceback.print_exc()
        try:
            conn.send(("error", f"{type(err).__name__}: {err}"))
        finally:
            os._exit(1)
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
