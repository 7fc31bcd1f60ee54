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
    model, arch = archsearch.load_model(run / "export")
    assert str(arch) == best["arch"]
    reference, _ = archsearch.load_model(run / "final" / "model.pt")
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), reference.eval()(x))
    bad = cli("search", "--budget", "1", "--final-epochs", "0", "--run-dir", str(tmp_path / "b"),
              check=False)
    assert bad.returncode == 1 and "--final-epochs must be an int >= 1" in bad.stderr
    assert not (tmp_path / "b").exists()


def test_darts_checks_final_epochs_before_searching(tmp_path):
    bad = cli("search", "--strategy", "darts", "--final-epochs", "-3", "--run-dir",
              str(tmp_path / "d"), check=False)
    assert bad.returncode == 1 and "--final-epochs must be an int >= 1" in bad.stderr
