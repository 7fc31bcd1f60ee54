"""search --final-epochs trains the best to the end; export makes it deployable."""

import json

import torch

import archsearch
from conftest import cli


def test_search_then_final_training_then_export(tmp_path):
    run = tmp_path / "run"
    out = cli("search", "--budget", "2", "--epochs", "1", "--channels", "4", "--cells", "1",
              "--threads", "1", "--final-epochs", "2", "--run-dir", str(run)).stdout
    best = json.loads((run / "best.json").read_text())
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    assert metrics["arch"] == best["arch"] and metrics["epochs"] == 2
    assert f"test accuracy {metrics['test_accuracy']:.4f}" in out
    formats = "torchscript,state_dict"
    try:
        import onnxruntime  # noqa: F401
        formats += ",onnx"
    except ImportError:
        pass
    shown = json.loads(cli("export", str(run), "--format", formats, "--json").stdout)
    assert set(shown["max_abs_difference"]) == set(formats.split(","))
    assert all(d < 1e-4 for d in shown["max_abs_difference"].values())
    model = archsearch.load_model(run / "export")
    assert str(model.arch) == best["arch"] and model.input_shape == (1, 8, 8)
    reference = archsearch.load_model(run / "final" / "model.pt")
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), reference.eval()(x))
    # a plain state dict, with the architecture and settings that describe its network
    again = tmp_path / "again"
    net_args = ("--arch", best["arch"], "--space", "nb201", "--channels", "4", "--cells", "1",
                "--dataset", "digits", "--format", "torchscript")
    cli("export", "--checkpoint", str(run / "export" / "state_dict.pt"), *net_args,
        "--out", str(again))
    rebuilt = archsearch.load_model(again)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), reference(x))
    misfit = cli("export", "--checkpoint", str(run / "export" / "state_dict.pt"),
                 *net_args[:5], "8", *net_args[6:], "--out", str(tmp_path / "m"), check=False)
    assert misfit.returncode == 1 and "do not fit" in misfit.stderr
    assert len(misfit.stderr.strip().splitlines()) == 2  # the error and the --debug hint
    bad = cli("search", "--budget", "1", "--final-epochs", "0", "--run-dir", str(tmp_path / "b"),
              check=False)
    assert bad.returncode == 1 and "--final-epochs must be an int >= 1" in bad.stderr
    assert not (tmp_path / "b").exists()


def test_darts_checks_final_epochs_before_searching(tmp_path):
    bad = cli("search", "--strategy", "darts", "--final-epochs", "-3", "--run-dir",
              str(tmp_path / "d"), check=False)
    assert bad.returncode == 1 and "--final-epochs must be an int >= 1" in bad.stderr


ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def test_final_training_recipe_from_the_command_line(tmp_path):
    net = ("--space", "nb201", "--channels", "4", "--cells", "1", "--arch", ARCH,
           "--threads", "1", "--epochs", "2")
    cli("train", *net, "--drop-path", "0.2", "--ema", "0.99", "--label-smoothing", "0.1",
        "--cutout", "3", "--out", str(tmp_path / "a"))
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert [r["epoch"] for r in metrics["history"]] == [1, 2]
    assert metrics["settings"]["ema"] == 0.99 and metrics["settings"]["drop_path"] == 0.2
    assert metrics["train_seconds"] == metrics["history"][-1]["seconds"]
    bad = cli("train", *net, "--aux-weight", "0.4", "--out", str(tmp_path / "b"), check=False)
    assert bad.returncode == 1 and "auxiliary head" in bad.stderr
