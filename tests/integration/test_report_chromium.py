"""The report of a real run, opened in headless Chromium: every figure decodes and shows."""

import contextlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from archsearch.cli.main import main

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]

pytest.importorskip("matplotlib")
pytestmark = pytest.mark.skipif(not CHROMIUM.is_file(),
                                reason=f"Chromium is not installed at {CHROMIUM}")


def archsearch(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(list(argv)) == 0
    return out.getvalue()


def chromium(profile, *args):
    """Run headless Chromium with a fresh profile; returns its stdout."""
    shutil.rmtree(profile, ignore_errors=True)
    proc = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture
def report(tmp_path):
    """A two-objective proxy search with a final training: a page with five figures."""
    run = tmp_path / "run"
    archsearch("search", "--strategy", "random", "--evaluator", "proxy:naswot,params",
               "--objective", "naswot,params:min", "--budget", "5", "--channels", "4",
               "--cells", "1", "--batch-size", "32", "--threads", "1", "--run-dir", str(run))
    archsearch("train", "--run-dir", str(run), "--epochs", "1", "--threads", "1")
    metrics_path = run / "final" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics.setdefault("history", [{"epoch": 1, "loss": 1.2, "train_accuracy": 0.6, "lr": 0.0,
                                    "seconds": metrics["train_seconds"]}])
    metrics_path.write_text(json.dumps(metrics))
    return Path(archsearch("report", str(run)).strip())


def test_report_renders_with_every_image_in_chromium(report, tmp_path):
    n_images = report.read_text().count("<img ")
    assert n_images == 5
    url = report.resolve().as_uri()
    dom = chromium(tmp_path / "profile", "--window-size=1280,900", "--virtual-time-budget=10000",
                   "--dump-dom", url)
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    total = re.search(r'data-images-total="(\d+)"', dom)
    height = re.search(r'data-page-height="(\d+)"', dom)
    assert loaded and total and height, "the page's script did not run: " + dom[:300]
    assert int(loaded.group(1)) == int(total.group(1)) == n_images

    shot = tmp_path / "screenshot.png"
    chromium(tmp_path / "profile", f"--window-size=1280,{int(height.group(1))}",
             f"--screenshot={shot}", url)
    plt = pytest.importorskip("matplotlib.pyplot")
    pixels = plt.imread(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pixels.shape[1] == 1280 and pixels.shape[0] > 2000
    colours = len(np.unique((pixels[::2, ::2, :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert colours > 500, f"a blank page? {colours} distinct colours"
