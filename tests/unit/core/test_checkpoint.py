import pytest
import torch

import archsearch
from archsearch import CheckpointError
from archsearch.data import load_task

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


@pytest.fixture
def saved(tmp_path, tiny_space):
    task = load_task("digits")
    arch = tiny_space.parse(ARCH)
    model = tiny_space.build(arch, task.input_shape, task.n_classes)
    path = tmp_path / "model.pt"
    archsearch.save_checkpoint(path, model, tiny_space, arch, task)
    return path, model


def test_round_trip(saved, tiny_space):
    path, model = saved
    loaded = archsearch.load_model(path)
    assert isinstance(loaded, torch.nn.Module) and str(loaded.arch) == ARCH
    assert loaded.space.config() == tiny_space.config()
    assert loaded.input_shape == (1, 8, 8) and loaded.n_classes == 10
    assert len(loaded.mean) == 1 and len(loaded.std) == 1
    x = torch.randn(3, 1, 8, 8)
    assert torch.equal(loaded.eval()(x), model.eval()(x))
    payload = torch.load(path, weights_only=True)  # plain data only
    assert payload["input_shape"] == [1, 8, 8] and len(payload["mean"]) == 1


@pytest.mark.parametrize("content, match", [
    (b"", "Cannot read checkpoint"),
    (b"not a checkpoint at all", "Cannot read checkpoint"),
])
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as info:
        archsearch.load_model(path)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint at"):
        archsearch.load_model(tmp_path / "nope.pt")


class Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": "archsearch.checkpoint/1", "x": Evil()}, path)
    with pytest.raises(CheckpointError):
        archsearch.load_model(path)
    assert "code ran" not in capsys.readouterr().out


def test_other_torch_file_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not an archsearch checkpoint"):
        archsearch.load_model(path)


def test_weights_of_another_architecture(saved, tmp_path):
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["arch"] = "|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="do not fit"):
        archsearch.load_model(other)


@pytest.mark.parametrize("mean", [None, "0.5", [float("nan")], [True], {"a": 1}])
def test_a_malformed_normalisation_is_one_line(saved, mean):
    path, _ = saved
    payload = torch.load(path, weights_only=True)
    payload["mean"] = mean
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="field 'mean' must be a list of finite numbers"):
        archsearch.load_model(path)
