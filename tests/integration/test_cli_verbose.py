"""`--verbose` says what a slow start is doing: loading data, building, training epoch k."""

import re

from conftest import cli

FAST = ["--dataset", "digits", "--channels", "4", "--cells", "1", "--epochs", "2", "--threads", "1"]


def test_verbose_logs_each_phase_of_a_trial(tmp_path):
    out = cli("search", "--budget", "1", "--run-dir", str(tmp_path / "run"), *FAST, "-v")
    log = out.stderr
    order = [log.index("loading dataset 'digits'"), log.index("loaded dataset 'digits'"),
             log.index("trial 0: evaluating |"), log.index("trial 0: built the network"),
             log.index("trial 0: epoch 1 of 2"), log.index("trial 0: epoch 2 of 2")]
    assert order == sorted(order), log
    assert re.search(r"loaded dataset 'digits' in [\d.]+ s: \d+ training, \d+ validation", log)


def test_quiet_without_the_flag(tmp_path):
    out = cli("search", "--budget", "1", "--run-dir", str(tmp_path / "run"), *FAST)
    assert "loading dataset" not in out.stderr and "epoch 1 of" not in out.stderr


def test_pool_workers_log_as_the_driver_asked(tmp_path):
    out = cli("--verbose", "search", "--budget", "2", "--run-dir", str(tmp_path / "run"), *FAST,
              "--backend", "pool", "--workers", "2")
    driver = re.search(r"MainProcess\[(\d+)\] loading dataset", out.stderr).group(1)
    workers = set(re.findall(r"\[(\d+)\] trial \d: epoch 1 of 2", out.stderr))
    assert workers and driver not in workers, out.stderr


def test_debug_logs_too(tmp_path):
    out = cli("search", "--budget", "1", "--run-dir", str(tmp_path / "run"), *FAST, "--debug")
    assert "trial 0: epoch 2 of 2" in out.stderr
