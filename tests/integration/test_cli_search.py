"""The command line end to end on real data (digits), including a kill and a resume."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from archsearch.checkpoint import load_model
from conftest import cli

FAST = ["--channels", "4", "--cells", "1", "--epochs", "1", "--threads", "1"]




def finished(run_dir):
    conn = sqlite3.connect(run_dir / "store.db")
    rows = conn.execute("SELECT key, state FROM trials").fetchall()
    conn.close()
    return rows


def test_search_show_train_round_trip(tmp_path):
    run_dir = tmp_path / "run"
    out = cli("search", "--dataset", "digits", "--budget", "3", "--run-dir", str(run_dir), *FAST)
    assert "best of 3 complete trials" in out.stdout
    best = json.loads((run_dir / "best.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    assert config["dataset"] == "digits" and config["budget"] == 3
    shown = json.loads(cli("show", str(run_dir), "--json").stdout)
    assert len(shown["trials"]) == 3 and shown["best"]["arch"] == best["arch"]
    assert "best: trial" in cli("show", str(run_dir)).stdout

    out = cli("train", "--run-dir", str(run_dir), "--epochs", "1", "--threads", "1")
    assert "test accuracy" in out.stdout
    metrics = json.loads((run_dir / "final" / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["arch"] == best["arch"]
    payload = torch.load(run_dir / "final" / "model.pt", weights_only=True)
    assert payload["arch"] == best["arch"]
    model = load_model(run_dir / "final" / "model.pt")
    assert str(model.arch) == best["arch"]
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_existing_run_needs_resume(tmp_path):
    run_dir = tmp_path / "run"
    cli("search", "--budget", "1", "--run-dir", str(run_dir), *FAST)
    again = cli("search", "--budget", "1", "--run-dir", str(run_dir), *FAST, check=False)
    assert again.returncode == 1 and "--resume" in again.stderr
    assert "Traceback" not in again.stderr


def test_resume_with_other_settings_shows_the_difference(tmp_path):
    run_dir = tmp_path / "run"
    cli("search", "--budget", "1", "--run-dir", str(run_dir), *FAST)
    again = cli("search", "--resume", "--budget", "2", "--run-dir", str(run_dir), *FAST,
                "--lr", "0.2", check=False)
    assert again.returncode == 1
    assert "evaluator.train.lr was 0.05, now 0.2" in again.stderr
    # the budget is operational: resuming with more of it is fine, and needs no other flag
    cli("search", "--resume", "--budget", "2", "--run-dir", str(run_dir))
    assert sum(state == "complete" for _, state in finished(run_dir)) == 2


def test_sigkill_then_resume_loses_and_repeats_nothing(tmp_path):
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "archsearch", "search", "--dataset", "digits", "--budget", "8",
            "--run-dir", str(run_dir), "--channels", "8", "--cells", "1", "--epochs", "3",
            "--threads", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if (run_dir / "store.db").exists():
                try:
                    rows = finished(run_dir)
                except sqlite3.OperationalError:
                    rows = []
                if sum(s == "complete" for _, s in rows) >= 3 and rows[-1][1] == "running":
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the search ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    before = finished(run_dir)
    assert before[-1][1] == "running"
    cli("search", "--resume", "--run-dir", str(run_dir))
    after = finished(run_dir)
    complete = [key for key, state in after if state == "complete"]
    assert len(complete) == 8 and len(set(complete)) == 8
    assert [s for _, s in after].count("interrupted") == 1
    assert after[:len(before) - 1] == before[:-1]  # finished trials untouched


@pytest.mark.parametrize("args, message", [
    (["describe", "--arch", "|nor_conv_3x3~0|+|"], "Malformed"),
    (["describe", "--arch", "|conv_9x9~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "conv_9x9"),
    (["describe", "--space", "nb210", "--arch", "x"], "Did you mean 'nb201'"),
    (["describe", "--arch", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "--input", "3x32"],
     "CxHxW"),
    (["search", "--strategy", "evolutoin", "--budget", "1"], "Did you mean 'evolution'"),
    (["search", "--dataset", "cifar10", "--data-dir", "/nonexistent/cifar", "--budget", "1"],
     "/nonexistent/cifar"),
    (["search", "--dataset", "fashion-mnistt", "--budget", "1"], "Did you mean 'fashion-mnist'"),
    (["search", "--epochs", "0", "--budget", "1"], "--epochs must be an int >= 1. Got 0."),
    (["show", "/nonexistent/run"], "No archsearch run"),
    (["train", "--dataset", "digits"], "--arch"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    if args[0] == "search":
        args = [*args, "--run-dir", str(tmp_path / "r")]
    proc = cli(*args, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("archsearch: error: ") and message in lines[0], proc.stderr
    assert len(lines) == 2 and lines[1].startswith("hint:")
    assert "Traceback" not in proc.stderr


def test_corrupt_store_is_one_line(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "store.db").write_bytes(b"garbage" * 1000)
    proc = cli("show", str(run_dir), check=False)
    assert proc.returncode == 1 and "corrupt" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("search", "--resume", "--run-dir", str(run_dir), *FAST, check=False)
    assert proc.returncode == 1 and "corrupt" in proc.stderr
    assert (run_dir / "store.db").read_bytes() == b"garbage" * 1000  # nothing overwritten


def test_debug_shows_the_traceback(tmp_path):
    proc = cli("--debug", "describe", "--arch", "nope", check=False)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_describe_reports_the_benchmark_parameter_count():
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    info = json.loads(cli("describe", "--space", "nb201", "--arch", arch, "--input", "3x32x32",
                          "--classes", "10", "--json", "--batch", "0").stdout)
    assert abs(info["params"] / 1e6 - 1.53) < 0.01
    assert info["flops"] > 0 and info["latency_ms"] > 0 and info["arch"] == arch
    assert "latency_ms_b32" not in info


def test_describe_other_spaces_with_a_larger_batch_and_a_drawing(tmp_path):
    pytest.importorskip("matplotlib")
    genotype = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('skip_connect', 0), "
                "('sep_conv_3x3', 1), ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
                "('skip_connect', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
                "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], "
                "reduce_concat=[2, 3, 4, 5])")
    drawing = tmp_path / "cells.svg"
    info = json.loads(cli("describe", "--space", "darts", "--arch", genotype, "--channels", "4",
                          "--space-arg", "layers=3", "--input", "1x28x28", "--batch", "4",
                          "--draw", str(drawing), "--json").stdout)
    assert info["latency_ms_b4"] > 0 and info["space_config"]["layers"] == 3
    svg = drawing.read_text()
    assert "sep_conv_3x3" in svg and "max_pool_3x3" in svg
