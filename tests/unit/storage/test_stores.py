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


# --- schema version 2 ---------------------------------------------------------------------
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
    s.close()
    again = SQLiteStore(path)  # now a version 2 file: opens as it is
    assert len(again.trials(1)) == 2
    again.close()

