"""Building a table on real data (digits): parallel workers, kill, resume without redoing rows."""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

import archsearch
from archsearch.benchmarks import read_table
from archsearch.benchmarks.build import BuildRecipe, build_table, distinct_architectures
from archsearch.benchmarks.quality import table_quality
from archsearch.training import TrainConfig

ARGS = ["--space", "nb201", "--channels", "4", "--cells", "1", "--dataset", "digits",
        "--epochs", "2", "--batch-size", "64", "--sample", "10"]


def rows(db):
    conn = sqlite3.connect(db)
    out = conn.execute("SELECT id, key, state, started_at FROM trials ORDER BY id").fetchall()
    conn.close()
    return out


def worker_pids(parent):
    found = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()
            if "resource_tracker" not in _cmdline(p)]


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read()
    except OSError:
        return ""


def alive(pids):
    return [p for p in pids if _cmdline(p)]


def test_distinct_architectures_cover_every_key_once():
    space = archsearch.create_space("nb201")
    archs = distinct_architectures(space, seed=0)
    assert len(archs) == 6466 and len({a.key for a in archs}) == 6466
    again = distinct_architectures(space, seed=0, sample=20)
    assert again == archs[:20]
    assert distinct_architectures(space, seed=1, sample=20) != again


def test_build_killed_and_resumed_redoes_no_row(tmp_path):
    out = tmp_path / "digits.csv.gz"
    db = tmp_path / "digits.csv.gz.build" / "store.db"
    cmd = [sys.executable, "-m", "archsearch", "bench", "build", *ARGS, "--workers", "2",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                done = [r for r in rows(db) if r[2] == "complete"] if db.exists() else []
            except sqlite3.OperationalError:  # the file exists before its tables do
                done = []
            if len(done) >= 3:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the build ended before it could be killed"
        workers = worker_pids(proc.pid)
        assert len(workers) == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    # the orphaned workers stop with their driver, in the middle of an epoch too
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and alive(workers):
        time.sleep(0.2)
    assert not alive(workers)
    before = {r[0]: r for r in rows(db) if r[2] == "complete"}
    assert not out.exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    after = rows(db)
    complete = [r for r in after if r[2] == "complete"]
    assert len(complete) == 10 and len({r[1] for r in complete}) == 10
    for _trial_id, row in before.items():  # finished rows were kept, not trained again
        assert row in after
    table = read_table(out).index(archsearch.create_space("nb201", channels=4, cells_per_stage=1))
    assert len(table) == 10
    assert {"val_acc_1ep", "val_acc_2ep", "train_seconds", "params", "flops",
            "latency_ms"} <= set(table.metrics)
    assert np.all((table.columns["val_acc_2ep"] > 5) & (table.columns["val_acc_2ep"] <= 100))
    meta = json.loads((tmp_path / "digits.meta.json").read_text())
    assert meta["complete"] and meta["rows"] == 10 and meta["recipe"]["train"]["n_epochs"] == 2
    # a resumed, complete build does nothing more
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and len(rows(db)) == len(after)


def test_build_refuses_another_recipe_in_the_same_place(tmp_path):
    recipe = BuildRecipe(space_config={"channels": 4, "cells_per_stage": 1}, dataset="digits",
                         train=TrainConfig(n_epochs=1), sample=2)
    out = tmp_path / "t.csv"
    build_table(recipe, out)
    other = BuildRecipe(space_config={"channels": 4, "cells_per_stage": 1}, dataset="digits",
                        train=TrainConfig(n_epochs=2), sample=2)
    try:
        build_table(other, out)
    except archsearch.ArchSearchError as err:
        assert "another recipe" in str(err) and "train" in str(err)
    else:
        raise AssertionError("a different recipe was accepted")


def test_build_refuses_far_more_workers_than_cores_before_writing_anything(tmp_path):
    out = tmp_path / "t.csv.gz"
    recipe = BuildRecipe(space_config={"channels": 4, "cells_per_stage": 1}, dataset="digits",
                         train=TrainConfig(n_epochs=1), sample=2)
    with pytest.raises(archsearch.InvalidParameterError, match="oversubscribe=True"):
        build_table(recipe, out, workers=1000)
    proc = subprocess.run([sys.executable, "-m", "archsearch", "bench", "build", *ARGS,
                           "--workers", "1000", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 1 and "--oversubscribe" in proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_quality_figures(tmp_path):
    base = dict(space_config={"channels": 4, "cells_per_stage": 1}, dataset="digits",
                train=TrainConfig(n_epochs=2, batch_size=64), sample=8)
    build_table(BuildRecipe(**base), tmp_path / "a.csv")
    build_table(BuildRecipe(**base, seed=1), tmp_path / "b.csv")
    space = archsearch.create_space("nb201", channels=4, cells_per_stage=1)
    a, b = (read_table(tmp_path / f"{n}.csv").index(space) for n in "ab")
    q = table_quality(a, other=b)
    assert q.column == "val_acc_2ep" and q.rows == 8
    assert q.spread["min"] <= q.spread["median"] <= q.spread["max"]
    assert -1 <= q.fidelities["val_acc_1ep"]["kendall_tau"] <= 1
    assert q.noise is not None and 0 <= q.noise["rows"] <= 8
