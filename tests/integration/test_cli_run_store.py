"""A run directory's store through the command line: one search at a time, the best read from
the store, resumes that need a run, JSON that parses, unreadable rows, long tables."""

import argparse
import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import cli


def table_args(nb201_table, run_dir, budget):
    return ["search", "--evaluator", f"table:{nb201_table}", "--space", "nb201",
            "--objective", "cifar10_val_acc_12ep", "--strategy", "random", "--budget",
            str(budget), "--run-dir", str(run_dir), "--threads", "1"]


def rows(run_dir):
    conn = sqlite3.connect(run_dir / "store.db")
    try:
        return conn.execute("SELECT number, key, state FROM trials ORDER BY number").fetchall()
    finally:
        conn.close()


def wait_for_rows(run_dir, proc, n, limit=120):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if len(rows(run_dir)) >= n:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the search made fewer than {n} trials (exit {proc.poll()})")


def test_a_second_search_or_a_training_of_a_running_search_is_refused(tmp_path, nb201_table):
    run_dir = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "archsearch",
                              *table_args(nb201_table, run_dir, 10**6)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_rows(run_dir, first, 5)
        second = cli(*table_args(nb201_table, run_dir, 10**6), "--resume", "--timeout", "3",
                     check=False)
        lines = second.stderr.strip().splitlines()
        assert second.returncode == 1 and len(lines) == 2, second.stderr
        assert str(run_dir) in lines[0] and f"(search pid {first.pid})" in lines[0]
        train = cli("train", "--run-dir", str(run_dir), "--epochs", "1", check=False)
        assert train.returncode == 1 and f"search pid {first.pid}" in train.stderr
        assert first.poll() is None  # the first search goes on untouched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    before = rows(run_dir)
    assert before[-1][2] == "running" or before[-1][2] == "complete"
    # a killed search holds nothing: its run resumes
    cli(*table_args(nb201_table, run_dir, len(before) + 5), "--resume")
    after = rows(run_dir)
    finished = [r for r in after if r[2] != "interrupted"]
    assert len(finished) == len(before) + 5 - (before[-1][2] == "running") or \
        len(finished) == len(before) + 5
    assert not any(state == "running" for *_, state in after)


def test_train_takes_the_best_from_the_store_not_a_stale_best_json(tmp_path, nb201_table):
    from archsearch.cli import train
    from archsearch.reports.summary import load_run

    run_dir = tmp_path / "run"
    cli(*table_args(nb201_table, run_dir, 12))
    best = load_run(run_dir).best()
    # a search killed after trials that beat best.json's (here: best.json written by hand)
    stale = json.loads((run_dir / "best.json").read_text())
    worst = min(load_run(run_dir).complete, key=lambda t: t.values["cifar10_val_acc_12ep"])
    (run_dir / "best.json").write_text(json.dumps({**stale, "arch": worst.arch}))
    _, arch = train._from_run_dir(argparse.Namespace(run_dir=str(run_dir), arch=None))
    assert arch == best.arch != worst.arch
    (run_dir / "best.json").unlink()  # a convenience for people: not needed
    _, arch = train._from_run_dir(argparse.Namespace(run_dir=str(run_dir), arch=None))
    assert arch == best.arch


@pytest.mark.parametrize("store", ["missing", "empty file", "no search"])
def test_resume_of_a_run_that_holds_no_search_is_one_line(tmp_path, nb201_table, store):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    if store == "empty file":
        (run_dir / "store.db").write_bytes(b"")
    elif store == "no search":
        from archsearch.storage import SQLiteStore
        SQLiteStore(run_dir / "store.db").close()
    proc = cli(*table_args(nb201_table, run_dir, 3), "--resume", check=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 2, proc.stderr
    assert "Nothing to resume in" in lines[0] and "without --resume" in lines[0]
    assert (run_dir / "store.db").exists() == (store != "missing")  # nothing created
    assert not (run_dir / "config.json").exists()


def strict_json(text):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_show_json_is_valid_json_when_metrics_are_not_finite(tmp_path, nb201_table):
    run_dir = tmp_path / "run"
    cli(*table_args(nb201_table, run_dir, 4))
    conn = sqlite3.connect(run_dir / "store.db")
    conn.execute("""UPDATE trials SET state='failed', metrics='{"cifar10_val_acc_12ep": null}'
                    WHERE number=1""")
    conn.commit()
    conn.close()
    out = strict_json(cli("show", str(run_dir), "--json").stdout)
    assert out["trials"][1]["values"] == {"cifar10_val_acc_12ep": None}
    # and the same output through python -m json.tool, which refuses NaN in strict mode
    tool = subprocess.run([sys.executable, "-m", "json.tool"], capture_output=True, text=True,
                          input=cli("show", str(run_dir), "--json").stdout)
    assert tool.returncode == 0


def test_an_unreadable_row_is_skipped_by_show_report_and_resume(tmp_path, nb201_table):
    run_dir = tmp_path / "run"
    cli(*table_args(nb201_table, run_dir, 6))
    conn = sqlite3.connect(run_dir / "store.db")
    conn.execute("UPDATE trials SET metrics=X'7b22783a' WHERE number=2")  # truncated JSON
    conn.execute("UPDATE trials SET started_at='noon' WHERE number=4")
    conn.commit()
    conn.close()
    shown = cli("show", str(run_dir))
    warnings = shown.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(w.startswith("archsearch: warning: ") for w in warnings)
    assert "(id 3)" in warnings[0] and "(id 5)" in warnings[1]
    assert "4 trials" in shown.stdout
    report = cli("report", str(run_dir), "--out", str(tmp_path / "r.html"), check=False)
    assert report.returncode == 0, report.stderr
    cli(*table_args(nb201_table, run_dir, 8), "--resume")
    numbers = [n for n, _, state in rows(run_dir) if state == "complete"]
    assert numbers == [0, 1, 2, 3, 4, 5, 6, 7]  # the two bad rows count as failed, not rerun


def test_show_limits_a_long_table(tmp_path, nb201_table):
    run_dir = tmp_path / "run"
    cli(*table_args(nb201_table, run_dir, 60))
    shown = cli("show", str(run_dir)).stdout.splitlines()
    assert "(10 earlier trials hidden; --limit N or --all shows more)" in shown
    numbers = [int(line.split()[0]) for line in shown if line[:4].strip().isdigit()]
    assert numbers == list(range(10, 60))
    assert len([ln for ln in cli("show", str(run_dir), "--all").stdout.splitlines()
                if ln[:4].strip().isdigit()]) == 60
    limited = cli("show", str(run_dir), "--limit", "5").stdout
    assert "(55 earlier trials hidden" in limited
    assert len(strict_json(cli("show", str(run_dir), "--json").stdout)["trials"]) == 60
    bad = cli("show", str(run_dir), "--limit", "0", check=False)
    assert bad.returncode == 1 and "--limit must be" in bad.stderr


@pytest.mark.slow  # six searches started and killed: about a minute
def test_kills_at_random_moments_lose_no_finished_trial(tmp_path, nb201_table):
    import random

    run_dir = tmp_path / "run"
    budget, kills = 400, 0
    rng = random.Random(5)
    seen: dict[int, tuple] = {}
    while kills < 6:
        n = len(rows(run_dir)) if kills else 0
        proc = subprocess.Popen([sys.executable, "-m", "archsearch",
                                 *table_args(nb201_table, run_dir, budget),
                                 *(["--resume"] if kills else [])],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_rows(run_dir, proc, n + 1)  # started: then killed at a random moment
            time.sleep(rng.uniform(0.0, 1.0))
            assert proc.poll() is None, "the search ended before it could be killed"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        kills += 1
        for number, key, state in rows(run_dir):
            if state in ("complete", "failed"):
                assert seen.setdefault(number, (key, state)) == (key, state)
    cli(*table_args(nb201_table, run_dir, budget), "--resume")
    final = rows(run_dir)
    for number, (key, state) in seen.items():  # every finished trial is still there, unchanged
        assert (number, key, state) in final
    complete = [key for _, key, state in final if state == "complete"]
    assert len(complete) == budget and len(set(complete)) == budget
