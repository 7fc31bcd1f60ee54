"""Flags are checked before anything is loaded or written, and mean the same in every command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import archsearch
from archsearch.cli import _common
from archsearch.cli.main import main

torch.set_num_threads(1)
ARCH = str(archsearch.create_space("nb201").sample(np.random.default_rng(0)))
SMALL = ["--channels", "2", "--cells", "1", "--epochs", "1", "--threads", "1"]


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading data fails the test: the flags must be refused before."""
    def load_task(*args: object, **kwargs: object) -> None:
        raise AssertionError("data loaded before the flags were checked")
    monkeypatch.setattr(_common, "load_task", load_task)


def one_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 1, err
    assert len(lines) == 2 and lines[0].startswith("archsearch: error: "), err
    assert lines[1].startswith("hint:") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("extra, message", [
    (["--budget", "0"], "--budget must be an int >= 1. Got 0."),
    (["--budget", "-3"], "--budget must be an int >= 1. Got -3."),
    (["--channels", "0"], "--channels must be an int in [1, 4096]. Got 0."),
    (["--cells", "0"], "--cells must be an int in [1, 1000]. Got 0."),
    (["--lr", "inf"], "--lr must be a finite number > 0. Got inf."),
    (["--lr", "nan"], "--lr must be a finite number > 0. Got nan."),
    (["--lr", "0"], "--lr must be a finite number > 0. Got 0.0."),
    (["--weight-decay", "-1"], "--weight-decay must be a finite number >= 0. Got -1.0."),
    (["--val-fraction", "1"], "--val-fraction must be a finite number in (0, 1). Got 1.0."),
    (["--n-train", "0"], "--n-train must be an int >= 1. Got 0."),
    (["--image-size", "0"], "--image-size must be an int in [1, 1024]. Got 0."),
    (["--seed", "-1"], "--seed must be an int in [0, 4294967295]. Got -1."),
    (["--epochs", "0"], "--epochs must be an int >= 1. Got 0."),
    (["--batch-size", "0"], "--batch-size must be an int >= 1. Got 0."),
    (["--timeout", "nan"], "--timeout must be a number > 0. Got nan."),
    (["--population-size", "0"], "--population-size must be an int >= 1. Got 0."),
    (["--mnas-target", "inf", "--mnas-latency", "flops"],
     "--mnas-target must be a finite number > 0. Got inf."),
    (["--objective", "val_acuracy"], "Did you mean 'val_accuracy'?"),
    (["--objective", "val_accuracy,parms:min"], "Did you mean 'params'?"),
    (["--mnas-target", "4e6", "--mnas-latency", "flop"], "Did you mean 'flops'?"),
    (["--evaluator", "proxy:nasowt"], "Did you mean 'naswot'?"),
    (["--evaluator", "proxy", "--objective", "val_accuracy"], "Unknown --objective metric"),
    (["--space", "darts", "--cells", "2"], "--space-arg layers="),
    (["--space", "chain", "--channels", "8"], "--channels does not apply to the chain space"),
    (["--channels", str(2**70)], "--channels must be an int in [1, 4096]."),
    (["--data-path", "x.npz"], "--data-path goes with --dataset npz or image-folder"),
])
def test_search_refuses_bad_flags_before_data_and_run_dir(tmp_path, capsys, no_data, extra,
                                                          message):
    run_dir = tmp_path / "run"
    line = one_error(capsys, ["search", "--run-dir", str(run_dir), "--threads", "1", *extra])
    assert message in line
    assert not run_dir.exists()


@pytest.mark.parametrize("extra, message", [
    (["--channels", "0"], "--channels must be an int in [1, 4096]. Got 0."),
    (["--lr", "inf"], "--lr must be a finite number > 0. Got inf."),
    (["--epochs", "-1"], "--epochs must be an int >= 1. Got -1."),
    (["--label-smoothing", "1"], "--label-smoothing must be a finite number in [0, 1). Got 1.0."),
    (["--ema", "nan"], "--ema must be a finite number in [0, 1). Got nan."),
    (["--aux-weight", "inf"], "--aux-weight must be a finite number >= 0. Got inf."),
    (["--space", "darts", "--cells", "1", "--arch", "x"], "--space-arg layers="),
])
def test_train_refuses_bad_flags_before_data_and_out(tmp_path, capsys, no_data, extra, message):
    out = tmp_path / "out"
    line = one_error(capsys, ["train", "--arch", ARCH, "--out", str(out), "--threads", "1", *extra])
    assert message in line
    assert not out.exists()


@pytest.mark.parametrize("extra, message", [
    (["--channels", "0"], "--channels must be an int in [1, 4096]. Got 0."),
    (["--space", "darts", "--cells", "2"], "--space-arg layers="),
    (["--space", "mnas", "--channels", "8"], "--channels does not apply to the mnas space"),
])
def test_describe_and_export_refuse_bad_space_flags(tmp_path, capsys, no_data, extra, message):
    assert message in one_error(capsys, ["describe", "--arch", ARCH, *extra])
    weights = tmp_path / "w.pt"
    torch.save({}, weights)
    out = tmp_path / "export"
    line = one_error(capsys, ["export", "--checkpoint", str(weights), "--arch", ARCH,
                              "--out", str(out), *extra])
    assert message in line and not out.exists()


def test_train_n_train_counts_the_images_trained_on(tmp_path, capsys):
    """--n-train N: the network is trained on N images, in train as in search."""
    out = tmp_path / "out"
    assert main(["train", "--arch", ARCH, "--dataset", "digits", "--n-train", "200",
                 "--out", str(out), "--image-size", "8", *SMALL]) == 0
    assert "200 examples" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_examples"] == 200
    # without --n-train: every training image, validation share included
    task = archsearch.load_task("digits", seed=0)
    assert main(["train", "--arch", ARCH, "--dataset", "digits", "--out", str(tmp_path / "all"),
                 *SMALL]) == 0
    full = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert full["train_examples"] == len(task.y_train) + len(task.y_val)


def test_search_n_train_counts_the_images_trained_on():
    task = _common.build_task({**_common.DEFAULTS, "n_train": 200})
    assert len(task.y_train) == 200  # the validation share is held out besides


@pytest.mark.parametrize("extra, message", [
    (["--classes", str(2**70)], "--classes must be an int in [1, 1000000]."),
    (["--batch", "99999999"], "--batch must be an int in [0, 4096]."),
    (["--input", "3x100000x100000"], "--input must look like CxHxW with integers in [1, 4096]"),
    (["--channels", str(2**70)], "--channels must be an int in [1, 4096]."),
])
def test_describe_refuses_huge_sizes(capsys, extra, message):
    assert message in one_error(capsys, ["describe", "--arch", ARCH, *extra])
