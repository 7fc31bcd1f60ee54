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


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteStore(path)


def test_directory_refused(tmp_path):
    with pytest.raises(StoreError, match="directory"):
        SQLiteStore(tmp_path)
