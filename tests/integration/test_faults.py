"""Faults a long search meets, through the command line and the store: nothing is lost."""

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from archsearch.storage import SQLiteStore
from archsearch.types import Architecture, TrialState
from conftest import cli


def _rows(run_dir):
    with sqlite3.connect(run_dir / "store.db") as db:
        return db.execute("SELECT number, key, state FROM trials ORDER BY number").fetchall()


def test_driver_sigkill_with_a_pool_then_resume_loses_nothing(tmp_path):
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "archsearch", "search", "--budget", "10", "--backend", "pool",
            "--workers", "2", "--threads", "1", "--channels", "8", "--cells", "1", "--epochs", "3",
            "--run-dir", str(run_dir)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                rows = _rows(run_dir) if (run_dir / "store.db").exists() else []
            except sqlite3.OperationalError:
                rows = []
            if sum(s == "complete" for _, _, s in rows) >= 3 and \
                    sum(s == "running" for _, _, s in rows) >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the search ended before it could be killed"
        workers = _children_of(proc.pid)
        assert len(workers) >= 2  # the pool's workers
        os.kill(proc.pid, signal.SIGKILL)  # the driver only: its workers must notice and exit
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _rows(run_dir)
    finished_before = [r for r in before if r[2] == "complete"]
    cli("search", "--resume", "--run-dir", str(run_dir))
    after = _rows(run_dir)
    complete = [key for _, key, state in after if state == "complete"]
    assert len(complete) == 10 and len(set(complete)) == 10  # none lost, none trained twice
    assert [r for r in after if r in finished_before] == finished_before  # kept as they were
    assert sum(state == "interrupted" for _, _, state in after) == \
        sum(state == "running" for _, _, state in before)
    deadline = time.monotonic() + 10  # orphaned workers exit mid-trial, seconds later
    while time.monotonic() < deadline and _alive(workers):
        time.sleep(0.5)
    assert not _alive(workers)


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()  # state, ppid, ...


def _children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(entry)[1]) == pid:
                    found.append(int(entry))
            except (OSError, ValueError):
                continue
    return found


def _alive(pids):
    """Those of ``pids`` still running (not gone, not zombies)."""
    alive = []
    for pid in pids:
        try:
            if _stat(pid)[0] != "Z":
                alive.append(pid)
        except OSError:
            continue
    return alive


def _writer(path, name, n):
    store = SQLiteStore(path)
    experiment = store.create_experiment(name, {"writer": name})
    for i in range(n):
        arch = Architecture("toy", (str(i),), f"{name}-{i}", f"{name}-{i}")
        trial = store.start_trial(experiment, arch)
        store.report(trial.id, 0, float(i))
        store.finish_trial(trial.id, TrialState.COMPLETE, {"score": float(i)})


def test_concurrent_writers_never_lose_a_row(tmp_path):
    path = tmp_path / "shared.db"
    SQLiteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, f"w{i}", 60)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM trials WHERE state='complete'").fetchone()[0] \
            == 240
        numbers = db.execute("SELECT experiment_id, COUNT(DISTINCT number) FROM trials "
                             "GROUP BY experiment_id").fetchall()
    assert sorted(n for _, n in numbers) == [60] * 4


@pytest.mark.slow
def test_a_ray_node_that_leaves_mid_search_loses_no_trial(tmp_path):
    pytest.importorskip("ray")
    from archsearch.testing.ray_cluster import LocalRayCluster

    run_dir = tmp_path / "run"
    with LocalRayCluster(nodes=2, cpus=1, port=6397) as cluster:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archsearch", "search", "--budget", "10", "--epochs", "20",
             "--channels", "8", "--cells", "1", "--backend", "ray", "--ray-address",
             cluster.address, "--threads", "1", "--run-dir", str(run_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "RAY_AUTH_MODE": "token"})
        killed = False
        deadline = time.monotonic() + 400
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            if not killed and (run_dir / "store.db").exists():
                try:
                    rows = _rows(run_dir)
                except sqlite3.OperationalError:
                    continue
                if sum(s == "complete" for *_, s in rows) >= 2 and \
                        sum(s == "running" for *_, s in rows) == 2:
                    cluster.kill_node(1)
                    killed = True
        assert proc.wait(60) == 0 and killed
    rows = _rows(run_dir)
    lost = [key for _, key, state in rows if state in ("failed", "interrupted")]
    complete = {key for _, key, state in rows if state == "complete"}
    assert lost and all(key in complete for key in lost)  # retried, without spending budget
    assert all(state in ("complete", "failed", "interrupted") for *_, state in rows)
