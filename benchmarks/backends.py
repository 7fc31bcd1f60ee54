"""The same search on each backend, and a Ray cluster that loses a node mid-search.

(1) One 16-trial digits search (nb201 C=16, one cell per stage, 10 epochs, evolution, seed 0)
with ``--backend inline``, ``pool`` (2 workers of 1 thread) and ``ray`` (a local cluster of
2 CPUs): wall time of each command and the finished trials its store holds.

(2) A two-node Ray cluster on this machine (head 127.0.0.2 and worker 127.0.0.3, one CPU
each, started with ``ray start`` as on two machines); a search joins it with
``--ray-address``; once some trials are done and both nodes are busy, the worker node is
killed (SIGKILL to its processes). Prints every trial: which were lost with the node, and
that each lost architecture was trained again.

    python benchmarks/backends.py [--part 1|2|both] [--budget 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from archsearch.testing.ray_cluster import LocalRayCluster

SEARCH = ["--dataset", "digits", "--space", "nb201", "--channels", "16", "--cells", "1",
          "--epochs", "10", "--strategy", "evolution", "--seed", "0"]


def archsearch(*args: str, **kwargs) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def, type-arg]
    return subprocess.run([sys.executable, "-m", "archsearch", *args], **kwargs)


def trials(run_dir: Path) -> list[tuple[int, str, str, str]]:
    with sqlite3.connect(run_dir / "store.db") as db:
        return db.execute("SELECT number, state, key, COALESCE(error, '') FROM trials "
                          "ORDER BY number").fetchall()


def part1(budget: int, root: Path) -> None:
    print(f"(1) the same {budget}-trial digits search on each backend (2 cores)")
    settings = {"inline": ["--threads", "2"],
                "pool": ["--backend", "pool", "--workers", "2", "--threads", "1"],
                "ray": ["--backend", "ray", "--workers", "2", "--threads", "1"]}
    walls = {}
    for name, extra in settings.items():
        run_dir = root / name
        start = time.perf_counter()
        archsearch("search", *SEARCH, "--budget", str(budget), "--run-dir", str(run_dir), *extra,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls[name] = time.perf_counter() - start
        rows = trials(run_dir)
        best = json.loads((run_dir / "best.json").read_text())["values"]["val_accuracy"]
        finished = sum(state in ("complete", "failed", "pruned") for _, state, _, _ in rows)
        print(f"  {name:<7} {walls[name]:6.1f} s   {finished} finished trials "
              f"({sum(s == 'complete' for _, s, _, _ in rows)} complete), best val_accuracy "
              f"{best:.4f}   ({walls['inline'] / walls[name]:.2f}x inline)", flush=True)


def part2(budget: int, root: Path) -> None:
    print("(2) a two-node Ray cluster on loopback; the worker node is killed mid-search")
    run_dir = root / "cluster"
    with LocalRayCluster(nodes=2, cpus=1) as cluster:
        env = {**os.environ, "RAY_AUTH_MODE": "token"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "archsearch", "search", *SEARCH, "--epochs", "20",
             "--budget", str(budget), "--backend", "ray", "--ray-address", cluster.address,
             "--threads", "1", "--run-dir", str(run_dir)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed_at = None
        while proc.poll() is None:
            time.sleep(0.2)
            if killed_at is None and (run_dir / "store.db").exists():
                try:
                    rows = trials(run_dir)
                except sqlite3.Error:
                    continue
                done = sum(s == "complete" for _, s, _, _ in rows)
                if done >= 4 and sum(s == "running" for _, s, _, _ in rows) == 2:
                    cluster.kill_node(1)
                    killed_at = done
                    print(f"  killed the worker node after {done} complete trials, "
                          f"2 running", flush=True)
        print(f"  search exited with {proc.returncode}")
    rows = trials(run_dir)
    lost = [(n, k, e) for n, s, k, e in rows if s == "failed"]
    for n, k, e in lost:
        again = [m for m, s, kk, _ in rows if kk == k and s == "complete"]
        print(f"  trial {n} lost: {e[:90]}... -> retrained as trial {again}")
    states = [s for _, s, _, _ in rows]
    complete = {k for _, s, k, _ in rows if s == "complete"}
    print(f"  {len(rows)} trials: {states.count('complete')} complete, {states.count('failed')} "
          f"lost with the node, {states.count('running')} left running; every lost "
          f"architecture retrained: {all(k in complete for _, k, _ in lost)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="both", choices=("1", "2", "both"))
    parser.add_argument("--budget", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("1", "both"):
            part1(args.budget, Path(tmp))
        if args.part in ("2", "both"):
            part2(args.budget, Path(tmp))


if __name__ == "__main__":
    main()
