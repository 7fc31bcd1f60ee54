import sqlite3
import threading

import pytest

import archsearch
from archsearch import StoreError, TrialState
from archsearch.errors import ExperimentExistsError
from archsearch.storage import MemoryStore, SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture
def arch():
    return archsearch.create_space("nb201").parse(
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|avg_pool_3x3~2|")


def test_trial_life_cycle(store, arch):
    exp = store.create_experiment("e", {"seed": 1})
    t = store.start_trial(exp, arch)
    assert t.state is TrialState.RUNNING and t.number == 0
    assert store.trials(exp)[0].state is TrialState.RUNNING  # committed before evaluation
    store.report(t.id, 1, 0.5)
    done = store.finish_trial(t.id, TrialState.COMPLETE, {"val_accuracy": 0.75, "nan": float("nan")})
    assert done.state is TrialState.COMPLETE
    assert done.values["val_accuracy"] == 0.75
    assert done.values["nan"] != done.values["nan"]  # NaN survives as NaN
    assert done.intermediate == {1: 0.5}
    assert done.duration_s is not None and done.duration_s >= 0
    assert store.start_trial(exp, arch).number == 1


def test_duplicate_experiment_refused(store):
    store.create_experiment("e", {})
    with pytest.raises(ExperimentExistsError, match="already exists"):
        store.create_experiment("e", {})
    assert store.find_experiment("e")[1] == {}
    assert store.find_experiment("nope") is None


def test_mark_interrupted(store, arch):
    exp = store.create_experiment("e", {})
    t = store.start_trial(exp, arch)
    assert store.mark_interrupted(exp) == 1
    assert store.trial(t.id).state is TrialState.INTERRUPTED
    assert store.mark_interrupted(exp) == 0


def test_persists_across_connections(tmp_path, arch):
    path = tmp_path / "s.db"
    s = SQLiteStore(path)
    exp = s.create_experiment("e", {"a": [1, 2]})
    s.finish_trial(s.start_trial(exp, arch).id, TrialState.FAILED, None, "boom")
    s.close()
    again = SQLiteStore(path)
    (trial,) = again.trials(exp)
    assert trial.state is TrialState.FAILED and trial.error == "boom"
    assert again.find_experiment("e") == (exp, {"a": [1, 2]})


def test_concurrent_writers_lose_nothing(tmp_path, arch):
    path = tmp_path / "s.db"
    exp = SQLiteStore(path).create_experiment("e", {})

    def worker():
        s = SQLiteStore(path)
        for _ in range(25):
            s.finish_trial(s.start_trial(exp, arch).id, TrialState.COMPLETE, {"x": 1.0})
        s.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    trials = SQLiteStore(path).trials(exp)
    assert len(trials) == 100
    assert sorted(t.number for t in trials) == list(range(100))


def test_corrupt_file_is_one_line_error(tmp_path):
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not an archsearch store or it is corrupt") as info:
        SQLiteStore(path)
    assert "\n" not in str(info.value)


def test_foreign_sqlite_file_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="another program"):
        SQLiteStore(path)


@pytest.mark.parametrize("version", ["3", "99"])
def test_newer_schema_refused(tmp_path, version):
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
    conn.commit()
    conn.close()
    expected = f"schema version {version}; this archsearch reads version 2"
    with pytest.raises(StoreError, match=expected) as info:
        SQLiteStore(path)
    assert "\n" not in str(info.value)


def test_directory_refused(tmp_path):
    with pytest.raises(StoreError, match="directory"):
        SQLiteStore(tmp_path)


# --- schema version 2: artifacts and the experiment's resumable state -------------------
# The schema of version 1, as archsearch wrote it before version 2.
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE experiments (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, fingerprint TEXT NOT NULL,
    created_at REAL NOT NULL);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY, experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    number INTEGER NOT NULL, arch TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
    metrics TEXT, error TEXT, started_at REAL, finished_at REAL, UNIQUE (experiment_id, number));
CREATE INDEX trials_by_key ON trials (experiment_id, key);
CREATE TABLE trial_reports (
    trial_id INTEGER NOT NULL REFERENCES trials(id), step INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (trial_id, step));
INSERT INTO meta(key, value) VALUES ('schema_version', '1');
INSERT INTO experiments(id, name, fingerprint, created_at) VALUES (1, 'old', '{"seed": 3}', 0.0);
INSERT INTO trials(id, experiment_id, number, arch, key, state, metrics, error, started_at,
                   finished_at)
    VALUES (1, 1, 0, 'a', 'ka', 'complete', '{"val_accuracy": 0.5}', NULL, 1.0, 2.0),
           (2, 1, 1, 'b', 'kb', 'running', NULL, NULL, 3.0, NULL);
INSERT INTO trial_reports(trial_id, step, value) VALUES (1, 0, 0.25), (1, 1, 0.5);
"""


def _tables(path):
    conn = sqlite3.connect(path)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        return names, version
    finally:
        conn.close()


def test_v1_file_migrates_to_v2_with_trials_intact(tmp_path):
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.close()
    s = SQLiteStore(path)
    assert _tables(path) == ({"meta", "experiments", "trials", "trial_reports", "trial_artifacts",
                              "experiment_state"}, str(archsearch.storage.SCHEMA_VERSION))
    assert archsearch.storage.SCHEMA_VERSION == 2
    assert s.find_experiment("old") == (1, {"seed": 3})
    done, running = s.trials(1)
    assert (done.arch, done.state, done.values, done.intermediate) == (
        "a", TrialState.COMPLETE, {"val_accuracy": 0.5}, {0: 0.25, 1: 0.5})
    assert (running.arch, running.state) == ("b", TrialState.RUNNING)
    assert s.artifacts(done.id) == {} and s.experiment_state(1) is None
    s.finish_trial(running.id, TrialState.COMPLETE, {"val_accuracy": 0.6},
                   artifacts={"alphas": [[0.1, 0.9]]}, experiment_state=(1, b"state"))
    s.close()
    again = SQLiteStore(path)  # now a version 2 file: opens as it is
    assert again.artifacts(running.id) == {"alphas": [[0.1, 0.9]]}
    assert again.experiment_state(1) == (1, b"state")
    assert len(again.trials(1)) == 2
    again.close()


def test_artifacts_and_state_round_trip(store, arch):
    exp = store.create_experiment("e", {})
    other = store.create_experiment("other", {})
    t = store.start_trial(exp, arch)
    blob = bytes(range(256)) * 64
    alphas = {"alphas_normal": [[0.1, 0.2, 0.7], [1e-8, 0.0, -3.5]], "alphas_reduce": [[1, 2]]}
    done = store.finish_trial(t.id, TrialState.COMPLETE, {"val_accuracy": 0.5},
                              artifacts={"weights": alphas, "genotype": "|skip~0|", "nan": None},
                              experiment_state=(0, blob))
    assert done.state is TrialState.COMPLETE and done.values == {"val_accuracy": 0.5}
    assert store.artifacts(t.id) == {"genotype": "|skip~0|", "nan": None, "weights": alphas}
    assert store.experiment_state(exp) == (0, blob)
    assert store.experiment_state(other) is None
    plain = store.start_trial(exp, arch)  # the positional signature still works, writes neither
    store.finish_trial(plain.id, TrialState.FAILED, None, "boom")
    assert store.artifacts(plain.id) == {} and store.experiment_state(exp) == (0, blob)
    with pytest.raises(StoreError, match="no trial with id 999"):
        store.artifacts(999)


def test_state_upsert_replaces_and_artifacts_merge_by_name(store, arch):
    exp = store.create_experiment("e", {})
    first, second = store.start_trial(exp, arch), store.start_trial(exp, arch)
    store.finish_trial(first.id, TrialState.COMPLETE, {}, artifacts={"a": 1, "b": [2]},
                       experiment_state=(0, b"epoch 0"))
    store.finish_trial(second.id, TrialState.COMPLETE, {}, experiment_state=(1, bytearray(b"epoch 1")))
    assert store.experiment_state(exp) == (1, b"epoch 1")
    store.finish_trial(first.id, TrialState.COMPLETE, {}, artifacts={"b": {"x": 3}})
    assert store.artifacts(first.id) == {"a": 1, "b": {"x": 3}}
    assert store.artifacts(second.id) == {}


def test_unserialisable_artifact_writes_nothing(store, arch):
    exp = store.create_experiment("e", {})
    old = store.start_trial(exp, arch)
    store.finish_trial(old.id, TrialState.COMPLETE, {"x": 1.0}, experiment_state=(0, b"epoch 0"))
    t = store.start_trial(exp, arch)
    with pytest.raises(ValueError, match="Artifact 'bad' of trial .* is not JSON-serialisable") as info:
        store.finish_trial(t.id, TrialState.COMPLETE, {"x": 2.0},
                           artifacts={"ok": [1, 2], "bad": {"w": object()}},
                           experiment_state=(1, b"epoch 1"))
    assert "\n" not in str(info.value)
    assert store.trial(t.id).state is TrialState.RUNNING and store.trial(t.id).values == {}
    assert store.artifacts(t.id) == {}
    assert store.experiment_state(exp) == (0, b"epoch 0")


@pytest.mark.parametrize("bad", [(1, "text"), (1.5, b"x"), (True, b"x"), b"x", (1, b"x", 2)])
def test_malformed_state_refused(store, arch, bad):
    exp = store.create_experiment("e", {})
    t = store.start_trial(exp, arch)
    with pytest.raises(ValueError, match=r"experiment_state must be a \(step: int, blob: bytes\)"):
        store.finish_trial(t.id, TrialState.COMPLETE, {}, artifacts={"a": 1}, experiment_state=bad)
    assert store.trial(t.id).state is TrialState.RUNNING and store.artifacts(t.id) == {}


def test_failed_state_write_rolls_back_the_trial(tmp_path, arch):
    """A failure inside the transaction (here the state insert) leaves the previous end whole."""
    path = tmp_path / "s.db"
    s = SQLiteStore(path)
    exp = s.create_experiment("e", {})
    t = s.start_trial(exp, arch)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TRIGGER no_state BEFORE INSERT ON experiment_state "
                 "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="disk full"):
        s.finish_trial(t.id, TrialState.COMPLETE, {"x": 1.0}, artifacts={"a": [1]},
                       experiment_state=(0, b"state"))
    assert s.trial(t.id).state is TrialState.RUNNING
    assert s.artifacts(t.id) == {} and s.experiment_state(exp) is None
    s.close()


def test_state_visible_to_another_connection(tmp_path, arch):
    path = tmp_path / "s.db"
    writer, reader = SQLiteStore(path), None
    try:
        exp = writer.create_experiment("e", {})
        reader = SQLiteStore(path)  # opened before the write
        blob = b"\x00\xff" * 100_000
        t = writer.start_trial(exp, arch)
        writer.finish_trial(t.id, TrialState.COMPLETE, {}, artifacts={"alphas": [[0.5]]},
                            experiment_state=(3, blob))
        assert reader.experiment_state(exp) == (3, blob)
        assert reader.artifacts(t.id) == {"alphas": [[0.5]]}
        assert reader.trial(t.id).state is TrialState.COMPLETE
    finally:
        writer.close()
        if reader is not None:
            reader.close()
