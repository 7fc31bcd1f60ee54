"""A killed final training, rerun, ends exactly where an uninterrupted one does."""

import json
import os
import signal
import subprocess
import sys
import time

import torch

from conftest import cli

ARCH = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
TRAIN = ["train", "--space", "nb201", "--arch", ARCH, "--channels", "8", "--cells", "1",
         "--dataset", "digits", "--epochs", "8", "--threads", "1"]


def _epoch(path):
    try:
        return torch.load(path, weights_only=True)["state"]["epoch"]
    except Exception:  # noqa: BLE001 - not written yet
        return 0


def test_a_killed_training_resumes_to_the_same_model(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    cli(*TRAIN, "--out", str(whole))
    proc = subprocess.Popen([sys.executable, "-m", "archsearch", *TRAIN, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if _epoch(killed / "training.pt") >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the training ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    left = _epoch(killed / "training.pt")
    assert 2 <= left < 8 and not (killed / "model.pt").exists()
    other = cli(*TRAIN, "--lr", "0.01", "--out", str(killed), check=False)
    assert other.returncode == 1 and "unfinished training of another" in other.stderr
    again = cli(*TRAIN, "--out", str(killed))
    assert f"resuming after epoch {left}" in again.stderr
    assert not (killed / "training.pt").exists()
    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    assert a["test_accuracy"] == b["test_accuracy"] and a["test_loss"] == b["test_loss"]
    wa = torch.load(whole / "model.pt", weights_only=True)["state_dict"]
    wb = torch.load(killed / "model.pt", weights_only=True)["state_dict"]
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
