"""benchmarks/darts_step.py runs every configuration at a tiny setting and reports them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "darts_step.py"


@pytest.mark.slow
def test_darts_step_benchmark_at_a_tiny_setting():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--threads", "1", "--batch", "2", "--channels", "4",
         "--layers", "2", "--repeat", "1", "--json"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    configs = {(r["impl"], r["order"]) for r in report["results"]}
    assert configs == {(impl, order) for impl in ("ours", "reference") for order in (1, 2)}
    for r in report["results"]:
        assert r["s_per_step"] > 0 and r["peak_mb"] >= r["rss_before_mb"] > 0
    assert set(report["ratios"]) == {"1", "2"}
    assert len(report["loadavg_before"]) == 3
