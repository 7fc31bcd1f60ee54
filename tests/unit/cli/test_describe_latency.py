"""``archsearch describe``: the latency measurement can be skipped or bounded."""

import contextlib
import io
import json
import time

import pytest
import torch
from torch import nn

from archsearch.cli.main import main
from archsearch.evaluators.cost import measure_latency_ms

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|"
SPACE = ["--space", "nb201", "--channels", "4", "--cells", "1", "--input", "1x8x8"]


def describe(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["describe", "--arch", ARCH, *SPACE, *argv])
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_latency_none_skips_the_measurement():
    code, out, _ = describe("--latency", "none", "--json")
    info = json.loads(out)
    assert code == 0 and info["params"] > 0 and info["flops"] > 0
    assert not [k for k in info if k.startswith("latency")]


def test_latency_lists_the_batch_sizes_measured():
    code, out, _ = describe("--latency", "2,1", "--latency-repeats", "2", "--json")
    info = json.loads(out)
    assert code == 0 and info["latency_ms"] > 0 and info["latency_ms_b2"] > 0
    assert "latency_ms_b32" not in info


def test_the_default_still_measures_batch_1_and_32():
    code, out, _ = describe("--latency-repeats", "1", "--json")
    info = json.loads(out)
    assert code == 0 and info["latency_ms"] > 0 and info["latency_ms_b32"] > 0


@pytest.mark.parametrize("argv, words", [
    (["--latency", "1,x"], "--latency must be 'none' or comma-separated batch sizes"),
    (["--latency", ""], "--latency must be"),
    (["--latency", "0"], "in [1, 65536]"),
    (["--latency", "1,1"], "names a batch size twice"),
    (["--latency", "99999999999999999999999"], "--latency must be"),
    (["--latency", "\u00b2"], "--latency must be"),
    (["--latency", "1", "--batch", "4"], "Give --latency or --batch, not both"),
    (["--batch", "-1"], "--batch must be an int in [0, 4096]"),
    (["--latency-repeats", "0"], "--latency-repeats must be an int >= 1"),
    (["--latency-seconds", "0"], "--latency-seconds must be a number > 0"),
    (["--latency-seconds", "nan"], "--latency-seconds must be a number > 0"),
    (["--latency-seconds=-inf"], "--latency-seconds must be a number > 0"),
])
def test_bad_latency_flags_get_one_line(argv, words):
    code, out, err = describe(*argv)
    assert code == 1 and out == ""
    line = err.splitlines()[0]
    assert line.startswith("archsearch: error: ") and words in line


class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, x):
        time.sleep(0.05)
        return self.linear(x)


def test_max_seconds_bounds_a_slow_measurement():
    torch.manual_seed(0)
    start = time.perf_counter()
    ms = measure_latency_ms(Slow(), (2,), n_warmup=5, n_repeat=1000, max_seconds=0.3)
    took = time.perf_counter() - start
    assert ms >= 50 and took < 1.0  # 1000 calls would take 50 s
    # without a bound every call runs
    start = time.perf_counter()
    measure_latency_ms(Slow(), (2,), n_warmup=0, n_repeat=8)
    assert time.perf_counter() - start >= 0.4
