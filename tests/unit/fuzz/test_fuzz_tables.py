"""Benchmark tables (CSV, CSV.gz and their meta.json) and latency tables, garbled.

A table read must end in a usable table or a one-line TableError; the same holds for
indexing it in a space, naming its space from the metadata, and for latency tables.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fuzz_support import fuzz, must_fail, outcome, print_summary, record
from hypothesis import given
from hypothesis import strategies as st

import archsearch
from archsearch.benchmarks.table import read_table, space_of, write_table
from archsearch.errors import ArchSearchError
from archsearch.evaluators import TabularLookup
from archsearch.evaluators.latency_table import LatencyTable, LatencyTableError

torch.set_num_threads(1)

SPACE = archsearch.create_space("nb201")
ARCHS = [str(SPACE.sample(np.random.default_rng(s))) for s in range(4)]
CELLS = st.one_of(st.sampled_from([*ARCHS, "", "nan", "inf", "-1e308", "1e999", "x", "\"", ",",
                                   "arch", "0x10", "1_000", "\u0663", "\x00", "\r"]),
                  st.floats().map(str), st.text(max_size=6))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def valid_csv() -> bytes:
    rows = "".join(f"{a},{i / 10},{i}\n" for i, a in enumerate(ARCHS))
    return ("arch,acc,params\n" + rows).encode()


@st.composite
def garbled(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with bytes flipped, cut, or spliced with random bytes."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if how == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "cut":
            del data[i:i + draw(st.integers(1, 8))]
        elif how == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=6))
        else:
            del data[i:]
    return bytes(data)


@st.composite
def csv_text(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(["arch", "acc", "params", "", " arch ", "a,b", "arch"])
                           | st.text(max_size=4), min_size=0, max_size=4))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=5))
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer) if draw(st.booleans()) else None
    if writer is None:  # unquoted: broken quoting and field counts
        buffer.write("\n".join(",".join(r) for r in [header, *rows]))
    else:
        writer.writerows([header, *rows])
    return buffer.getvalue().encode("utf-8", "surrogatepass")


TABLE_BYTES = st.one_of(st.binary(max_size=80), csv_text(), garbled(valid_csv()),
                        csv_text().map(lambda b: b"\xef\xbb\xbf" + b))  # with a byte-order mark


def read_and_use(path: Path, kind: str) -> None:
    table = outcome(kind, lambda: read_table(path))
    if table is None:
        return
    assert len(table) >= 1 and all(isinstance(a, str) for a in table.archs)
    indexed = outcome(kind + "-index", lambda: table.index(SPACE))
    if indexed is not None:
        for arch in ARCHS:
            row = outcome(kind + "-lookup", lambda a=arch: table.lookup(SPACE.parse(a)))
            assert row is None or all(isinstance(v, float) for v in row.values())


@fuzz(300)
@given(data=TABLE_BYTES)
def test_csv_tables(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_bytes(data)
    read_and_use(path, "table:csv")


@fuzz(200)
@given(data=TABLE_BYTES, compress=st.booleans())
def test_gzip_tables(tmp_path_factory: pytest.TempPathFactory, data: bytes, compress: bool) -> None:
    path = tmp_path_factory.mktemp("gz") / "t.csv.gz"
    if compress:  # a gzip of garbage, or garbage in place of a gzip
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data if data[:2] != b"\x1f\x8b" else data[2:])
    read_and_use(path, "table:csv.gz")


@fuzz(150)
@given(data=st.integers(0, 2**32 - 1).flatmap(
    lambda _: garbled(gzip.compress(valid_csv(), mtime=0))))
def test_damaged_gzip_tables(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("gzd") / "t.csv.gz"
    path.write_bytes(data)
    read_and_use(path, "table:csv.gz-damaged")


META = st.one_of(st.binary(max_size=40),
                 JSON.map(lambda v: json.dumps(v).encode()),
                 st.fixed_dictionaries({}, optional={"space": JSON | st.sampled_from(["nb201", "darts",
                                                                                     "x"]),
                                                      "space_config": JSON}).map(
                     lambda v: json.dumps(v).encode()))


@fuzz(300)
@given(meta=META)
def test_meta_beside_a_table(tmp_path_factory: pytest.TempPathFactory, meta: bytes) -> None:
    folder = tmp_path_factory.mktemp("meta")
    path = folder / "t.csv"
    write_table(path, [{"arch": a, "acc": 1.0} for a in ARCHS])
    (folder / "t.meta.json").write_bytes(meta)
    table = outcome("table:meta", lambda: read_table(path))
    if table is not None:
        outcome("table:meta-space", lambda: space_of(table))
        outcome("table:meta-lookup", lambda: TabularLookup(table, "acc").setup(SPACE))


# --- latency tables -------------------------------------------------------------------------
def valid_latency() -> dict:
    table = LatencyTable((1, 8, 8), n_warmup=0, n_repeat=1)
    table.entries = {"conv": 0.5, "relu": 0.1}
    return table.to_json()


@st.composite
def latency_json(draw: st.DrawFn) -> bytes:
    data = valid_latency()
    for _ in range(draw(st.integers(1, 3))):
        target = data
        path = draw(st.sampled_from([[], ["calibration"], ["entries"]]))
        for key in path:
            target = target[key] if isinstance(target.get(key), dict) else target
        keys = list(target) + ["bogus"]
        key = draw(st.sampled_from(keys))
        if draw(st.integers(0, 4)) == 0:
            target.pop(key, None)
        else:
            target[key] = draw(JSON | st.sampled_from(["cpu", "cuda:9", "x", "linear", float("inf"),
                                                       -1, 10**30, [0, 8, 8], [1, -8, 8]]))
    return json.dumps(data).encode()


@fuzz(300)
@given(data=st.one_of(latency_json(), st.binary(max_size=40)))
def test_latency_tables(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("lat") / "latency.json"
    path.write_bytes(data)
    table = outcome("latency-table:json", lambda: LatencyTable.load(path), LatencyTableError)
    if table is not None:
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
        outcome("latency-table:predict", lambda: table.predict(net, (1, 8, 8)), ArchSearchError)


# --- hand-written tables ----------------------------------------------------------------------
MEASURE = """
import sys
from archsearch.benchmarks.table import read_table
from archsearch.errors import ArchSearchError
try:
    read_table(sys.argv[1])
    print("read")
except ArchSearchError as err:
    print(err)
# this process's own peak (VmHWM): ru_maxrss would carry over the parent's, whose
# memory a child started by fork or vfork counts as its own until exec
print(next(int(line.split()[1]) // 1024 for line in open("/proc/self/status")
           if line.startswith("VmHWM:")))
"""


def test_a_gzip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    """256 KB of gzip holding 256 MB in one cell: read as a stream, refused at a line limit."""
    import subprocess
    import sys

    path = tmp_path / "bomb.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b"arch,acc\n")
        for _ in range(16):
            fh.write(b"0" * (1 << 24))
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True,
                          text=True, timeout=120)
    message, peak_mb = proc.stdout.strip().rsplit("\n", 1)
    record("table:hand", "error")
    assert ("field" in message or "longer than" in message) and "2" in message, message
    assert int(peak_mb) < 1000, peak_mb


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e999", "9" * 400])
def test_infinite_values_are_not_metrics(tmp_path: Path, cell: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"arch,acc\n{ARCHS[0]},1\n{ARCHS[1]},{cell}\n")
    message = must_fail("table:hand", lambda: TabularLookup(path, "acc").setup(SPACE))
    assert f"row 3 holds {cell[:40]!r}" in message


def test_a_table_not_in_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(f"arch,acc\n{ARCHS[0]},1\n".encode("utf-16"))
    message = must_fail("table:hand", lambda: read_table(path))
    assert "UTF-8" in message


def test_summary() -> None:
    print_summary("table:")
    print_summary("latency-table:")
