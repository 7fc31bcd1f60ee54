"""Export: one architecture of every space to ONNX, TorchScript and weights, checked."""

import json
import sys

import numpy as np
import pytest
import torch

import archsearch
from archsearch._utils.imports import MissingDependencyError
from archsearch.checkpoint import save_checkpoint
from archsearch.data import load_task
from archsearch.errors import InvalidParameterError
from archsearch.export import export_model
from conftest import cli

SMALL = {"nb201": {"channels": 4, "cells_per_stage": 1}, "darts": {"channels": 4, "layers": 3},
         "chain": {"depth": 3}, "mnas": {"width": 0.25, "n_blocks": 3}}


@pytest.fixture(scope="module")
def task():
    return load_task("digits")


def _checkpoint(tmp_path, task, name):
    space = archsearch.create_space(name, **SMALL[name])
    arch = space.sample(np.random.default_rng(0))
    torch.manual_seed(0)
    model = space.build(arch, task.input_shape, task.n_classes).eval()
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, space, arch, task)
    return path, model, arch


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_space_exports_and_round_trips(tmp_path, task, name):
    pytest.importorskip("onnxruntime")
    assert set(SMALL) == set(archsearch.list_spaces())  # a new space joins this test
    path, model, arch = _checkpoint(tmp_path, task, name)
    out = tmp_path / "export"
    diffs = export_model(path, out)
    assert set(diffs) == {"onnx", "torchscript", "state_dict"}
    assert all(d < 1e-4 for d in diffs.values()), diffs
    x = torch.randn(3, *task.input_shape)  # another batch size than the export's
    with torch.no_grad():
        expected = model(x)
        loaded = archsearch.load_model(out)
        assert loaded.arch == arch and loaded.n_classes == task.n_classes
        assert torch.allclose(loaded.eval()(x), expected, atol=1e-6)
        traced = torch.jit.load(str(out / "model.ts"))
        assert torch.allclose(traced(x), expected, atol=1e-5)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    assert np.allclose(got, expected.numpy(), atol=1e-4)
    info = json.loads((out / "model.json").read_text())
    assert info["arch"] == str(arch) and info["input_shape"] == list(task.input_shape)
    assert len(info["mean"]) == task.input_shape[0] and info["max_abs_difference"] == diffs
    weights = torch.load(out / "state_dict.pt", weights_only=True)
    assert weights.keys() == model.state_dict().keys()


def test_bad_exports_fail_in_one_line(tmp_path, task, monkeypatch):
    path, _, _ = _checkpoint(tmp_path, task, "chain")
    with pytest.raises(InvalidParameterError, match="Unknown export format 'tflite'"):
        export_model(path, tmp_path / "x", ["tflite"])
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(MissingDependencyError, match=r"archsearch\[export\]"):
        export_model(path, tmp_path / "y", ["onnx"])
    run = tmp_path / "run"
    run.mkdir()
    missing = cli("export", str(run), check=False)
    assert missing.returncode == 1 and "archsearch train --run-dir" in missing.stderr
    done = cli("export", "--checkpoint", str(path), "--format", "torchscript", "--json").stdout
    assert json.loads(done)["max_abs_difference"]["torchscript"] < 1e-5


def test_an_export_stopped_midway_leaves_the_earlier_files_whole(tmp_path, task, monkeypatch):
    path, model, arch = _checkpoint(tmp_path, task, "nb201")
    out = tmp_path / "export"
    export_model(path, out, ["state_dict", "torchscript"])
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    real_save = torch.save

    def killed_while_writing(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as fh:  # half the file is on disk when the process dies
            fh.truncate(fh.seek(0, 2) // 2)
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        export_model(path, out, ["state_dict", "torchscript"])
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before  # no tmp file left either
    monkeypatch.undo()
    state = torch.load(out / "state_dict.pt", weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
