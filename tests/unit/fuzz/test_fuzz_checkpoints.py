"""Checkpoint files: random bytes, damaged torch files and torch files of the wrong contents.

Loading goes through ``torch.load(weights_only=True)``; every bad file must end in a
one-line CheckpointError (or, for a readable checkpoint naming a bad space, architecture or
shape, another one-line archsearch error), and nothing in a file may run code.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import torch
from fuzz_support import fuzz, must_fail, outcome, print_summary, record
from hypothesis import given
from hypothesis import strategies as st

import archsearch
from archsearch.checkpoint import FORMAT, load_checkpoint, load_model, save_checkpoint
from archsearch.data import load_task
from archsearch.errors import CheckpointError

torch.set_num_threads(1)

SPACE = archsearch.create_space("nb201", channels=2, cells_per_stage=1)


@pytest.fixture(scope="module")
def valid(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import numpy as np

    task = load_task("digits", n_train=50)
    arch = SPACE.sample(np.random.default_rng(0))
    model = SPACE.build(arch, task.input_shape, task.n_classes)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_checkpoint(path, model, SPACE, arch, task)
    return path.read_bytes()


@st.composite
def damaged(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "truncate", "cut", "insert"]))
        if how == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del data[i:]
        elif how == "cut":
            del data[i:i + draw(st.integers(1, 64))]
        else:
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        if not data:
            break
    return bytes(data)


def load_both(kind: str, path: Path) -> None:
    outcome(kind, lambda: load_checkpoint(path), CheckpointError)
    result = outcome(kind + "-model", lambda: load_model(path))
    if result is not None:
        assert isinstance(result, torch.nn.Module) and str(result.arch)


@fuzz(150)
@given(data=st.binary(max_size=200))
def test_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "model.pt"
    path.write_bytes(data)
    load_both("checkpoint:random-bytes", path)


@fuzz(120)
@given(data=st.data())
def test_damaged_files(valid: bytes, tmp_path_factory: pytest.TempPathFactory,
                       data: st.DataObject) -> None:
    path = tmp_path_factory.mktemp("damaged") / "model.pt"
    path.write_bytes(data.draw(damaged(valid)))
    load_both("checkpoint:damaged", path)


VALUES = st.one_of(st.none(), st.integers(-2, 2**70), st.floats(), st.text(max_size=8),
                   st.lists(st.integers(-1, 40), max_size=4), st.just({}), st.just({"channels": "x"}),
                   st.just({"bogus": 1}), st.just(torch.zeros(2)),
                   st.sampled_from(["nb201", "darts", "chain", "x", FORMAT, "|x~0|"]))
KEYS = ["format", "space", "space_config", "arch", "input_shape", "n_classes", "mean", "std",
        "state_dict"]


@fuzz(150)
@given(data=st.data())
def test_wrong_contents(valid: bytes, tmp_path_factory: pytest.TempPathFactory,
                        data: st.DataObject) -> None:
    payload = torch.load(io.BytesIO(valid), weights_only=True)
    for key in data.draw(st.lists(st.sampled_from([*KEYS, "extra"]), min_size=1, max_size=3,
                                  unique=True)):
        if data.draw(st.integers(0, 3)) == 0:
            payload.pop(key, None)
        elif key == "state_dict" and data.draw(st.booleans()):  # weights of other shapes or names
            state = dict(payload["state_dict"])
            name = data.draw(st.sampled_from(sorted(state)))
            state[name] = torch.zeros(data.draw(st.sampled_from([(1,), (0,), (3, 3)])))
            state[data.draw(st.sampled_from(["extra.weight", name]))] = torch.ones(1)
            payload["state_dict"] = state
        else:
            payload[key] = data.draw(VALUES)
    if data.draw(st.integers(0, 5)) == 0:
        payload = data.draw(VALUES)  # not a dict at all
    path = tmp_path_factory.mktemp("contents") / "model.pt"
    torch.save(payload, path)
    load_both("checkpoint:wrong-contents", path)


class Payload:
    """An object whose unpickling would run code."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("obj", [Payload(), {"format": FORMAT, "arch": Payload()}, torch.nn.Linear(2, 2),
                                 {"format": FORMAT, "space": "nb201", "state_dict": Path("x")}])
def test_pickled_objects_are_refused(tmp_path: Path, obj: object) -> None:
    path = tmp_path / "model.pt"
    torch.save(obj, path)
    message = must_fail("checkpoint:pickled-code", lambda: load_checkpoint(path), CheckpointError)
    assert "Cannot read checkpoint" in message or "not an archsearch checkpoint" in message
    # torch's advice to turn its safety off is never passed on; what the file should be is
    assert "weights_only" not in message and "safe_globals" not in message, message
    assert "\x1b" not in message and len(message) < 400, message
    if "Cannot read checkpoint" in message:
        assert "pickled object" in message and "save_checkpoint" in message, message


def test_state_dict_and_training_state_errors_drop_the_unsafe_advice(tmp_path: Path) -> None:
    from archsearch.checkpoint import load_error_reason

    path = tmp_path / "x.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    try:
        torch.load(path, weights_only=True)
    except Exception as err:  # noqa: BLE001
        reason = load_error_reason(err)
    assert "weights_only" not in reason and "torch.nn.modules.linear.Linear" in reason, reason


# --- a small file that declares a huge network ------------------------------------------------
MEASURE = """
import sys, time
from archsearch.checkpoint import load_model
from archsearch.errors import CheckpointError
start = time.perf_counter()
try:
    load_model(sys.argv[1])
    message = "loaded"
except CheckpointError as err:
    message = str(err)
print(time.perf_counter() - start)
# this process's own peak (VmHWM): ru_maxrss would carry over the parent's, whose
# memory a child started by fork or vfork counts as its own until exec
print(next(int(line.split()[1]) // 1024 for line in open("/proc/self/status")
           if line.startswith("VmHWM:")))
print(message)
"""


def measure_load(path: Path) -> tuple[float, int, str]:
    """Seconds, peak resident MB and the one-line outcome of load_model(path) in a fresh process."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    seconds, peak, message = proc.stdout.split("\n", 2)
    return float(seconds), int(peak), message.strip()


@pytest.mark.parametrize("field, value", [("n_classes", 10**8),
                                          ("space_config", {"channels": 3000, "cells_per_stage": 1}),
                                          ("input_shape", [10**6, 8, 8])])
def test_a_small_file_declaring_a_huge_network_is_refused_before_allocating(
        valid: bytes, tmp_path: Path, field: str, value: object) -> None:
    payload = torch.load(io.BytesIO(valid), weights_only=True)
    payload[field] = value
    path = tmp_path / "model.pt"
    torch.save(payload, path)
    assert path.stat().st_size < 100_000
    seconds, peak_mb, message = measure_load(path)
    record("checkpoint:huge-network", "error")
    assert message.startswith(f"Checkpoint {path} declares a network of") and "\n" not in message
    assert seconds < 5 and peak_mb < 1000, (seconds, peak_mb)


def test_a_stride_zero_tensor_cannot_stand_for_huge_weights(valid: bytes, tmp_path: Path) -> None:
    """A weight of 10**8 elements viewing one stored number (stride 0) takes no room in the file."""
    payload = torch.load(io.BytesIO(valid), weights_only=True)
    payload["n_classes"] = 10**7
    state = payload["state_dict"]
    name = next(k for k, v in state.items() if k.endswith("weight") and v.dim() == 2)
    state[name] = torch.zeros(1).expand(10**7, state[name].shape[1])
    state[name.replace("weight", "bias")] = torch.zeros(1).expand(10**7)
    path = tmp_path / "model.pt"
    torch.save(payload, path)
    assert path.stat().st_size < 100_000
    seconds, peak_mb, message = measure_load(path)
    record("checkpoint:huge-network", "error")
    assert "declares a network of" in message and seconds < 5 and peak_mb < 1000, (
        seconds, peak_mb, message)


def test_a_space_config_too_large_to_build_is_refused(valid: bytes, tmp_path: Path) -> None:
    payload = torch.load(io.BytesIO(valid), weights_only=True)
    payload["space_config"] = {"channels": 10**9, "cells_per_stage": 1}
    path = tmp_path / "model.pt"
    torch.save(payload, path)
    message = must_fail("checkpoint:huge-network", lambda: load_model(path))
    assert "declares a network" in message and "\n" not in message


@pytest.mark.parametrize("how", ["empty", "one byte", "json", "cut zip", "zip of text"])
def test_unreadable_files_are_named_for_what_they_are(valid: bytes, tmp_path: Path, how: str) -> None:
    import zipfile

    data = {"empty": b"", "one byte": valid[:1], "json": b'{"format": "x"}',
            "cut zip": valid[: len(valid) // 2]}.get(how)
    path = tmp_path / "model.pt"
    if data is None:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a.txt", "hi")
    else:
        path.write_bytes(data)
    message = must_fail("checkpoint:unreadable", lambda: load_checkpoint(path), CheckpointError)
    reason = message.split(": ", 1)[1]
    assert "pickled object" not in reason and "weights_only" not in reason, message
    assert "internal miniz error" not in reason and "Errno" not in reason, message
    assert "save_checkpoint" in reason, message


def test_summary() -> None:
    print_summary("checkpoint:")
