"""Store files: random bytes, damaged databases, other programs' databases and odd contents.

Opening or reading must end in a store or a one-line StoreError, and ``archsearch show``
on such a run directory must end in one error line and leave the directory as it was.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch
from fuzz_support import check_cli, fuzz, outcome, print_summary, run_cli, tree_hashes
from hypothesis import given
from hypothesis import strategies as st

from archsearch.errors import StoreError
from archsearch.storage import SQLiteStore

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("fuzz-store") / "run"
    code, _, err, _ = run_cli(["search", "--budget", "2", "--epochs", "1", "--channels", "4",
                               "--cells", "1", "--threads", "1", "--run-dir", str(run_dir)])
    assert code == 0, err
    return run_dir


def read_all(kind: str, path: Path) -> None:
    def everything() -> None:
        store = SQLiteStore(path)
        try:
            for name in store.experiment_names():
                found = store.find_experiment(name)
                if found is not None:
                    for trial in store.trials(found[0]):
                        store.artifacts(trial.id)
                    store.experiment_state(found[0])
        finally:
            store.close()

    outcome(kind, everything, StoreError)


@st.composite
def damaged(draw: st.DrawFn, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "truncate", "zero-page", "header"]))
        if how == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "truncate":
            del data[i:]
        elif how == "zero-page":
            start = i // 4096 * 4096
            data[start:start + 4096] = bytes(len(data[start:start + 4096]))
        elif len(data) > 100:  # the 100-byte header: page size, counts, schema cookie
            j = draw(st.integers(16, 99))
            data[j] = draw(st.integers(0, 255))
        if not data:
            break
    return bytes(data)


def run_show(kind: str, run_dir: Path, extra: list[str]) -> None:
    before = tree_hashes(run_dir)
    code = check_cli(kind, ["show", str(run_dir), *extra])
    after = tree_hashes(run_dir)
    if code != 0:
        assert after == before, f"show changed {run_dir}: {set(after.items()) ^ set(before.items())}"
    else:  # a read: the store file itself is untouched
        assert after.get("store.db") == before.get("store.db")


SHOW_FLAGS = st.lists(st.sampled_from([["--json"], ["--name", "search"], ["--name", "x"],
                                       ["--pareto", "val_accuracy,params"], ["--pareto", "a"]]),
                      max_size=2).map(lambda flags: [f for pair in flags for f in pair])


@fuzz(200)
@given(data=st.one_of(st.binary(max_size=200), st.just(b""), st.just(b"SQLite format 3\x00")),
       flags=SHOW_FLAGS)
def test_random_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes, flags: list[str]) -> None:
    run_dir = tmp_path_factory.mktemp("bytes")
    (run_dir / "store.db").write_bytes(data)
    read_all("store:random-bytes", run_dir / "store.db")
    (run_dir / "store.db").write_bytes(data)
    run_show("store:show-random-bytes", run_dir, flags)


@fuzz(200)
@given(data=st.data(), flags=SHOW_FLAGS)
def test_damaged_database(finished_run: Path, tmp_path_factory: pytest.TempPathFactory,
                          data: st.DataObject, flags: list[str]) -> None:
    run_dir = tmp_path_factory.mktemp("damaged") / "run"
    shutil.copytree(finished_run, run_dir)
    bad = data.draw(damaged((finished_run / "store.db").read_bytes()))
    (run_dir / "store.db").write_bytes(bad)
    run_show("store:show-damaged", run_dir, flags)
    (run_dir / "store.db").write_bytes(bad)
    read_all("store:damaged", run_dir / "store.db")


IDENT = st.sampled_from(["meta", "experiments", "trials", "trial_reports", "trial_artifacts",
                         "experiment_state", "key", "value", "id", "name", "fingerprint", "x"])
CELL = st.one_of(st.none(), st.integers(-2, 2**62), st.floats(allow_nan=False), st.text(max_size=6),
                 st.binary(max_size=4), st.sampled_from(["2", "1", "99", "two", "{}", "[", "complete",
                                                         '{"strategy": {"name": "darts"}}']))


@st.composite
def other_schema(draw: st.DrawFn) -> list[tuple[str, list[str], list[tuple[object, ...]]]]:
    tables = []
    for name in draw(st.lists(IDENT, min_size=1, max_size=4, unique=True)):
        columns = draw(st.lists(IDENT, min_size=1, max_size=4, unique=True))
        rows = draw(st.lists(st.tuples(*[CELL] * len(columns)), max_size=3))
        tables.append((name, columns, rows))
    return tables


@fuzz(200)
@given(schema=other_schema(), flags=SHOW_FLAGS)
def test_other_schemas(tmp_path_factory: pytest.TempPathFactory, schema, flags: list[str]) -> None:
    run_dir = tmp_path_factory.mktemp("schema")
    path = run_dir / "store.db"
    conn = sqlite3.connect(path)
    for name, columns, rows in schema:
        conn.execute(f"CREATE TABLE {name} ({', '.join(columns)})")
        conn.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(columns))})", rows)
    conn.commit()
    conn.close()
    run_show("store:show-other-schema", run_dir, flags)
    read_all("store:other-schema", path)


ROW_EDITS = [
    # (version 1 is upgraded in place, on purpose)
    ("UPDATE meta SET value=? WHERE key='schema_version'", st.sampled_from(["3", "x", "", "-1"])),
    ("UPDATE experiments SET fingerprint=?", st.sampled_from(["", "[", "null", "[]", "1", "{}",
                                                               '{"objective": 3}',
                                                               '{"objective": {"name": 1}}',
                                                               '{"strategy": {"name": "darts"}}',
                                                               '{"strategy": []}'])),
    ("UPDATE trials SET state=?", st.sampled_from(["done", "", "COMPLETE", "failed", "running"])),
    ("UPDATE trials SET metrics=?", st.sampled_from(["", "[", "[]", "1", '{"val_accuracy": "x"}',
                                                      '{"val_accuracy": null}', '{"params": 1e999}',
                                                      '{"val_accuracy": [1]}'])),
    ("UPDATE trials SET arch=?", st.sampled_from(["", "x", "|x~0|"])),
    ("UPDATE trials SET number=?", st.sampled_from([None, -1, "x", 2**62])),
    ("UPDATE trials SET started_at=?, finished_at=?", st.tuples(CELL, CELL)),
    ("UPDATE trial_reports SET value=?", st.sampled_from(["x", None, 1e308])),
    ("INSERT INTO trial_artifacts(trial_id, name, value) VALUES (1, 'alphas', ?)",
     st.sampled_from(["", "[", "{}"])),
    ("UPDATE experiments SET name=?", st.sampled_from([None, 1, "", "x"])),
]


@fuzz(250)
@given(edits=st.lists(st.sampled_from(range(len(ROW_EDITS))), min_size=1, max_size=3), data=st.data(),
       flags=SHOW_FLAGS)
def test_odd_contents(finished_run: Path, tmp_path_factory: pytest.TempPathFactory,
                      edits: list[int], data: st.DataObject, flags: list[str]) -> None:
    """The right schema holding what archsearch never writes (another version, a hand edit)."""
    run_dir = tmp_path_factory.mktemp("contents") / "run"
    shutil.copytree(finished_run, run_dir)
    conn = sqlite3.connect(run_dir / "store.db")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA ignore_check_constraints=ON")
    for k in edits:
        sql, values = ROW_EDITS[k]
        value = data.draw(values)
        try:
            conn.execute(sql, value if isinstance(value, tuple) else (value,))
        except sqlite3.IntegrityError:  # NOT NULL and UNIQUE still hold
            pass
    conn.commit()
    conn.close()
    run_show("store:show-odd-contents", run_dir, flags)
    read_all("store:odd-contents", run_dir / "store.db")


def test_summary() -> None:
    print_summary("store:")


assert json
