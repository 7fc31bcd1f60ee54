"""The Ray backend: each evaluation is a Ray task on a cluster of one or many machines.

``address=None`` starts a local cluster bound to the loopback address (nothing listens on
the machine's network); ``address="auto"`` or ``"HOST:PORT"`` joins a cluster started
with ``ray start``. Each task takes one CPU (``threads`` torch threads) and is never
retried by Ray itself: a task whose worker or node dies comes back as a lost trial, which
the search records and retries. The space and evaluator (with its data) go to the object
store once; each worker process keeps them between tasks.

With pruning, a task's reports go to a small actor (no CPU of its own) and the task waits
there for the driver's decision; the driver collects the reports as it polls, stores them,
asks its pruner and answers. Without pruning, a task's reports come back when it ends.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from archsearch._utils.imports import require
from archsearch._utils.validation import check_float, check_int
from archsearch.backends.base import Backend, Job, Outcome, ReportFn, run_job
from archsearch.errors import BackendError
from archsearch.evaluators.base import Evaluator
from archsearch.spaces.base import SearchSpace
from archsearch.types import TrialState

__all__ = ["RayBackend"]

LOCAL_NODE_IP = "127.0.0.2"
"""A local cluster's node address: loopback (Ray rewrites 127.0.0.1 to the network address)."""

_payloads: dict[str, tuple[SearchSpace, Evaluator]] = {}  # per worker process


class _Decisions:
    """A Ray actor where reports wait for the driver's decision (pruning only).

    A task calls :meth:`report` and waits for its answer; the driver calls :meth:`take`
    for the reports not yet seen and :meth:`answer` with whether each trial stops.
    """

    def __init__(self) -> None:
        self._waiting: dict[tuple[int, int], asyncio.Future[bool]] = {}
        self._new: list[tuple[int, int, float]] = []
        self._arrived = asyncio.Event()

    async def report(self, trial_id: int, step: int, value: float) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[(trial_id, step)] = future
        self._new.append((trial_id, step, value))
        self._arrived.set()
        return await future

    async def take(self, timeout: float) -> list[tuple[int, int, float]]:
        if not self._new:
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        self._arrived.clear()
        new, self._new = self._new, []
        return new

    async def answer(self, decisions: list[tuple[int, int, bool]]) -> None:
        for trial_id, step, stop in decisions:
            future = self._waiting.pop((trial_id, step), None)
            if future is not None and not future.done():
                future.set_result(stop)


def _evaluate(payload: list[Any], job: Job, threads: int, decisions: Any = None
              ) -> tuple[Outcome, list[tuple[int, float]]]:
    """A Ray task: evaluate ``job``; the space and evaluator come from the object store once.

    With ``decisions`` (the actor), each report waits for the driver's decision; else the
    reports are returned with the outcome.
    """
    import ray
    import torch

    ref = payload[0]  # wrapped in a list, so Ray hands the reference, not a copy per task
    key = ref.hex()
    if key not in _payloads:
        space, evaluator = ray.get(ref)
        evaluator.setup(space)
        _payloads.clear()
        _payloads[key] = (space, evaluator)
    _, evaluator = _payloads[key]
    torch.set_num_threads(threads)
    reports: list[tuple[int, float]] = []
    if decisions is None:
        outcome = run_job(evaluator, job, lambda step, value: reports.append((step, value)))
    else:
        def decide(step: int, value: float) -> bool:
            return bool(ray.get(decisions.report.remote(job.trial_id, step, value)))

        outcome = run_job(evaluator, job, decide, pruning=True)
    outcome.exception = None  # it may not pickle
    return outcome, reports


def _use_token_if_present() -> None:
    """Send this machine's Ray token when joining a cluster, if the user has one.

    ``ray start`` turns on token authentication and saves the token; a driver that joins
    must then run with ``RAY_AUTH_MODE=token``. An explicit RAY_AUTH_MODE is left alone.
    """
    from pathlib import Path

    if "RAY_AUTH_MODE" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", "~/.ray/auth_token")).expanduser()
    if os.environ.get("RAY_AUTH_TOKEN") or path.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


class RayBackend(Backend):
    """Run evaluations as Ray tasks, one CPU each.

    Args:
        workers: tasks running at once (default: the cluster's CPUs).
        address: ``None`` starts a local cluster (``workers`` CPUs, or all cores); ``"auto"``
            or ``"HOST:PORT"`` joins a running one.
        threads: torch threads of each task.
        trial_timeout: seconds after which a task is cancelled and its trial recorded as
            failed (counted from submission).
        node_ip: this machine's node address when starting a local cluster.

    Example:
        >>> RayBackend(workers=2).describe()
        'ray (a local cluster of 2 CPUs)'
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 threads: int = 1, trial_timeout: float | None = None,
                 node_ip: str = LOCAL_NODE_IP) -> None:
        if workers is not None:
            check_int("RayBackend", "workers", workers, 1)
        check_int("RayBackend", "threads", threads, 1)
        if trial_timeout is not None:
            check_float("RayBackend", "trial_timeout", trial_timeout, 0.0, low_open=True)
        self.workers, self.address, self.threads = workers, address, threads
        self.trial_timeout, self.node_ip = trial_timeout, node_ip
        self.capacity = workers or 1
        self._owns = False
        self._running: dict[Any, tuple[Job, float]] = {}
        self._cancelled: set[Any] = set()
        self._decisions: Any = None

    def describe(self) -> str:
        if self.address:
            return f"ray (the cluster at {self.address})"
        return f"ray (a local cluster of {self.workers or os.cpu_count()} CPUs)"

    def start(self, space: SearchSpace, evaluator: Evaluator, report: ReportFn,
              pruning: bool = False) -> None:
        if self.address:
            _use_token_if_present()  # read when Ray is imported
        ray = require("ray", "ray")
        self.report = report
        if not ray.is_initialized():
            try:
                if self.address:
                    ray.init(address=self.address, log_to_driver=False)
                else:
                    ray.init(address="local", num_cpus=self.workers or os.cpu_count(),
                             include_dashboard=False,
                             _node_ip_address=self.node_ip, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = self.address or "a local cluster"
                hint = (" (a cluster with token authentication also needs its token: "
                        "RAY_AUTH_TOKEN, or ~/.ray/auth_token copied from the head node)"
                        if self.address else "")
                raise BackendError(f"Cannot start Ray on {where}: "
                                   f"{' '.join(str(err).split())[:300]}{hint}") from None
            self._owns = True
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise BackendError("The Ray cluster has no CPU to run trials on.")
        self.capacity = self.workers or cpus
        self._payload = [ray.put((space, evaluator))]
        self._task = ray.remote(num_cpus=1, max_retries=0)(_evaluate)
        self._running, self._cancelled = {}, set()
        # every running task may wait in `report` at once; `take` must still get a turn
        self._decisions = (ray.remote(num_cpus=0, max_restarts=0)(_Decisions)
                           .options(max_concurrency=max(1000, 2 * self.capacity + 16)).remote()
                           if pruning else None)

    def submit(self, job: Job) -> None:
        ref = self._task.remote(self._payload, job, self.threads, self._decisions)
        self._running[ref] = (job, time.monotonic())

    def _decide(self, wait: float) -> None:
        """Store the reports waiting at the actor (up to ``wait`` s for one) and answer them."""
        import ray

        reports = ray.get(self._decisions.take.remote(wait))
        running = {job.trial_id for job, _ in self._running.values()}
        if reports:  # a report of a trial already collected (ended) is dropped
            self._decisions.answer.remote([
                (trial_id, step, trial_id in running and bool(self.report(trial_id, step, v)))
                for trial_id, step, v in reports])

    def poll(self, timeout: float) -> list[Outcome]:
        import ray

        if not self._running:
            return []
        if self.trial_timeout is not None:
            due = min(t for _, t in self._running.values()) + self.trial_timeout
            timeout = max(0.0, min(timeout, due - time.monotonic()))
        refs = list(self._running)
        if self._decisions is None:
            ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        else:  # answer reports while waiting for a task to end
            end = time.monotonic() + timeout
            while True:
                self._decide(min(0.05, max(0.0, end - time.monotonic())))
                ready, _ = ray.wait(refs, num_returns=1, timeout=0)
                if ready or time.monotonic() >= end:
                    break
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        outcomes = [self._collect(ref) for ref in ready]
        if self.trial_timeout is not None:
            now = time.monotonic()
            for ref, (_, started) in self._running.items():
                if ref not in self._cancelled and now - started >= self.trial_timeout:
                    ray.cancel(ref, force=True)
                    self._cancelled.add(ref)
        return outcomes

    def _collect(self, ref: Any) -> Outcome:
        import ray

        job, started = self._running.pop(ref)
        try:
            outcome, reports = ray.get(ref)
        except ray.exceptions.RayError as err:
            if ref in self._cancelled:
                self._cancelled.discard(ref)
                return Outcome(job.trial_id, TrialState.FAILED,
                               error=f"stopped after the time limit of {self.trial_timeout:g} s",
                               seconds=time.monotonic() - started)
            first = next((line for line in str(err).splitlines() if line.strip()), "")
            return Outcome(job.trial_id, TrialState.FAILED, lost=True,
                           error=f"Ray task lost ({type(err).__name__}: {first.strip()[:200]})",
                           seconds=time.monotonic() - started)
        for step, value in reports:
            self.report(job.trial_id, step, value)
        return outcome  # type: ignore[no-any-return]

    def close(self) -> None:
        try:
            import ray
        except ImportError:
            return
        for ref in self._running:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - the cluster may be gone already
                pass
        self._running = {}
        if self._decisions is not None:
            try:
                ray.kill(self._decisions)
            except Exception:  # noqa: BLE001 - the cluster may be gone already
                pass
            self._decisions = None
        if self._owns and ray.is_initialized():
            ray.shutdown()
            self._owns = False
