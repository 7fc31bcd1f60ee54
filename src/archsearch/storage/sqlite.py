"""SQLite store: every experiment and trial, the source of truth of a search.

The database runs in WAL mode with a busy timeout so several processes may write at once.
A trial row is committed before its evaluation starts and updated when it ends, so a
killed search loses nothing that finished. A trial's end may carry its artifacts (small JSON
values) and the experiment's resumable state (a blob); all three are written in one
transaction, so a kill leaves either the previous end or the new one complete.
``":memory:"`` gives a private in-memory store.

Schema version 2 added the artifacts and state tables; a version 1 file is upgraded in
place, in one transaction, when it is opened.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import time
from collections.abc import Container, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from archsearch.errors import ExperimentExistsError, StoreError
from archsearch.storage.base import DEAD_PROCESS, check_experiment_state, encode_artifacts
from archsearch.types import Architecture, FrozenTrial, TrialState

__all__ = ["SQLiteStore", "SCHEMA_VERSION"]

SCHEMA_VERSION = 2
_UPGRADABLE = (1,)  # older versions that the schema script upgrades additively
_BUSY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class _Corrupt:
    """A reported value that is not a number: its trial's row is unreadable."""

    value: Any


class SQLiteStore:
    """A store of experiments and trials in one SQLite file.

    Args:
        path: the database file (created if absent) or ``":memory:"``.
        create: whether a file without tables (absent, empty) becomes a new store; if not,
            it is refused with a StoreError and left as it is.

    Example:
        >>> store = SQLiteStore(":memory:")
        >>> exp = store.create_experiment("demo", {"seed": 0})
        >>> store.experiment_names()
        ['demo']
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = str(path)
        #: trial rows that could not be read (id -> experiment id): skipped, warned about once
        self.unreadable: dict[int, int] = {}
        self._conn = self._connect(create)

    # --- connection -------------------------------------------------------------
    def _connect(self, create: bool) -> sqlite3.Connection:
        if self.path != ":memory:" and Path(self.path).is_dir():
            raise StoreError(f"Cannot open store {self.path}: it is a directory, not a file.")
        conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        conn.text_factory = _text  # bytes that are not UTF-8 make one row unreadable, not all
        try:
            # a file of another program (or none, unless creating) is refused before any write
            if self._version(conn) is None and not create:
                raise StoreError(f"Cannot open store {self.path}: it holds no archsearch store.")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(conn)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as err:
            conn.close()
            raise StoreError(
                f"Cannot open store {self.path}: {_one_line(err)}. It is not an archsearch store or it is "
                "corrupt; move it aside or use another run directory."
            ) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Create the schema in a new file, or upgrade an older version, in one transaction."""
        if self._version(conn) == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")  # then look again: another process may have done it
        try:
            version = self._version(conn)
            if version != SCHEMA_VERSION:
                schema = resources.files("archsearch.storage").joinpath("schema.sql").read_text()
                for statement in _statements(schema):
                    conn.execute(statement)
                conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _version(self, conn: sqlite3.Connection) -> int | None:
        """The file's schema version, None if it is empty; raises if this code cannot use it."""
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise StoreError(
                f"Cannot open store {self.path}: it is an SQLite file of another program "
                f"(tables: {', '.join(sorted(tables))}); use another run directory."
            )
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            version = int(row[0]) if row else -1
        except (TypeError, ValueError):
            raise StoreError(f"Cannot open store {self.path}: its schema version {row[0]!r} is not "
                             "a number; it is not an archsearch store or it is corrupt.") from None
        if version != SCHEMA_VERSION and version not in _UPGRADABLE:
            raise StoreError(
                f"Store {self.path} has schema version {version}; this archsearch reads version "
                f"{SCHEMA_VERSION}. Upgrade archsearch or use another run directory."
            )
        return version

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so concurrent writers queue, not deadlock."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"Writing to store {self.path} failed: {_one_line(err)}.") from None
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as err:  # (text that is not UTF-8)
            raise StoreError(f"Reading store {self.path} failed: {_one_line(err)}.") from None

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    # --- experiments ------------------------------------------------------------
    def create_experiment(self, name: str, fingerprint: Mapping[str, Any]) -> int:
        """Create an experiment; raises ExperimentExistsError if the name is taken."""
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM experiments WHERE name=?", (name,)).fetchone():
                n = conn.execute(
                    "SELECT COUNT(*) FROM trials t JOIN experiments e ON t.experiment_id=e.id "
                    "WHERE e.name=?",
                    (name,),
                ).fetchone()[0]
                raise ExperimentExistsError(
                    f"Experiment {name!r} already exists in {self.path} ({n} trials). "
                    'Use if_exists="resume" (CLI: --resume) or a new name.'
                )
            cur = conn.execute(
                "INSERT INTO experiments(name, fingerprint, created_at) VALUES (?, ?, ?)",
                (name, json.dumps(fingerprint, sort_keys=True), time.time()),
            )
            return int(cur.lastrowid or 0)

    def find_experiment(self, name: str) -> tuple[int, dict[str, Any]] | None:
        """The id and fingerprint of experiment ``name``, or None."""
        rows = self._read("SELECT id, fingerprint FROM experiments WHERE name=?", (name,))
        if not rows:
            return None
        fingerprint = self._decode(rows[0][1], f"settings of experiment {name!r}")
        if not isinstance(fingerprint, dict):
            raise StoreError(f"Store {self.path} holds corrupt settings of experiment {name!r}: "
                             "not a JSON object.")
        return int(rows[0][0]), fingerprint

    def experiment_names(self) -> list[str]:
        """Names of all experiments, oldest first."""
        return [r[0] for r in self._read("SELECT name FROM experiments ORDER BY id")]

    # --- trials -----------------------------------------------------------------
    def start_trial(self, experiment_id: int, arch: Architecture) -> FrozenTrial:
        """Record a new RUNNING trial (committed before the caller evaluates it)."""
        now = time.time()
        with self._write() as conn:
            number = conn.execute(
                "SELECT COALESCE(MAX(number) + 1, 0) FROM trials WHERE experiment_id=?",
                (experiment_id,),
            ).fetchone()[0]
            cur = conn.execute(
                "INSERT INTO trials(experiment_id, number, arch, key, state, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (experiment_id, number, str(arch), arch.key, TrialState.RUNNING.value, now),
            )
        return FrozenTrial(
            id=int(cur.lastrowid or 0), experiment_id=experiment_id, number=int(number),
            arch=str(arch), key=arch.key, state=TrialState.RUNNING, started_at=now,
        )

    def report(self, trial_id: int, step: int, value: float) -> None:
        """Record an intermediate value (e.g. validation accuracy after an epoch)."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO trial_reports(trial_id, step, value) VALUES (?, ?, ?)",
                (trial_id, step, float(value)),
            )

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: Mapping[str, float] | None = None,
        error: str | None = None,
        *,
        artifacts: Mapping[str, Any] | None = None,
        experiment_state: tuple[int, bytes] | None = None,
    ) -> FrozenTrial:
        """Record the end of a trial: its state, metrics and error.

        ``artifacts`` (JSON-serialisable values by name; a name written again is replaced)
        and ``experiment_state`` (``(step, blob)``, replacing the experiment's previous one)
        are written in the same transaction as the trial, so either all of it is stored or
        none. A value that cannot be stored raises before anything is written.
        """
        metrics = json.dumps({k: _jsonable(v) for k, v in (values or {}).items()})
        encoded = encode_artifacts(trial_id, artifacts)
        resume = check_experiment_state(experiment_state)
        with self._write() as conn:
            row = conn.execute("SELECT experiment_id FROM trials WHERE id=?", (trial_id,)).fetchone()
            if row is None:
                raise StoreError(f"Store {self.path} has no trial with id {trial_id}.")
            conn.execute(
                "UPDATE trials SET state=?, metrics=?, error=?, finished_at=? WHERE id=?",
                (state.value, metrics, error, time.time(), trial_id),
            )
            conn.executemany(
                "INSERT OR REPLACE INTO trial_artifacts(trial_id, name, value) VALUES (?, ?, ?)",
                [(trial_id, name, text) for name, text in encoded.items()],
            )
            if resume is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO experiment_state(experiment_id, step, blob) "
                    "VALUES (?, ?, ?)",
                    (row[0], resume[0], resume[1]),
                )
        return self.trial(trial_id)

    def artifacts(self, trial_id: int) -> dict[str, Any]:
        """A trial's artifacts, sorted by name (empty if it has none)."""
        rows = self._read(
            "SELECT name, value FROM trial_artifacts WHERE trial_id=? ORDER BY name", (trial_id,)
        )
        if not rows and not self._read("SELECT 1 FROM trials WHERE id=?", (trial_id,)):
            raise StoreError(f"Store {self.path} has no trial with id {trial_id}.")
        return {name: self._decode(value, f"artifact {name!r} of trial {trial_id}")
                for name, value in rows}

    def experiment_state(self, experiment_id: int) -> tuple[int, bytes] | None:
        """The experiment's last ``(step, blob)`` state, or None if none was written."""
        rows = self._read(
            "SELECT step, blob FROM experiment_state WHERE experiment_id=?", (experiment_id,)
        )
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def mark_interrupted(self, experiment_id: int) -> int:
        """Turn RUNNING trials left by a dead process into INTERRUPTED; returns how many."""
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE trials SET state=?, error=?, finished_at=? WHERE experiment_id=? AND state=?",
                (TrialState.INTERRUPTED.value, DEAD_PROCESS,
                 time.time(), experiment_id, TrialState.RUNNING.value),
            )
            return cur.rowcount

    _COLUMNS = "id, experiment_id, number, arch, key, state, metrics, error, started_at, finished_at"

    def trial(self, trial_id: int) -> FrozenTrial:
        """One trial by id."""
        rows = self._read(f"SELECT {self._COLUMNS} FROM trials WHERE id=?", (trial_id,))
        if not rows:
            raise StoreError(f"Store {self.path} has no trial with id {trial_id}.")
        return self._trial_of(rows[0], self._reports([trial_id]).get(trial_id, {}))

    def trials(
        self, experiment_id: int, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        """The trials of an experiment in the order they were started.

        A row that cannot be read (corrupt JSON, a value of the wrong type) is left out,
        with one warning line on stderr naming it, so one bad row does not hide the others.
        """
        rows = self._read(
            f"SELECT {self._COLUMNS} FROM trials WHERE experiment_id=? ORDER BY number",
            (experiment_id,),
        )
        reports = self._reports([r[0] for r in rows])
        out = []
        for row in rows:
            try:
                trial = self._trial_of(row, reports.get(row[0], {}))
            except StoreError as err:
                self._skip(row[0], experiment_id, str(err))
                continue
            out.append(trial)
        return out if states is None else [t for t in out if t.state in states]

    def _skip(self, trial_id: Any, experiment_id: int, why: str) -> None:
        if trial_id not in self.unreadable:
            self.unreadable[trial_id] = experiment_id
            print(f"archsearch: warning: {why} It is skipped.", file=sys.stderr)

    def _reports(self, trial_ids: list[int]) -> dict[int, dict[int, float] | _Corrupt]:
        """Each trial's reported values by step, or what made them unreadable."""
        if not trial_ids:
            return {}
        out: dict[int, dict[int, float] | _Corrupt] = {}
        for start in range(0, len(trial_ids), 500):  # SQLite takes a bounded number of ?s
            chunk = trial_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(
                f"SELECT trial_id, step, value FROM trial_reports WHERE trial_id IN ({marks}) "
                "ORDER BY trial_id, step",
                tuple(chunk),
            )
            for trial_id, step, value in rows:
                held = out.setdefault(trial_id, {})
                if isinstance(held, _Corrupt):
                    continue
                try:
                    held[int(step)] = float(value)
                except (TypeError, ValueError):  # that trial's row is reported unreadable
                    out[trial_id] = _Corrupt(value)
        return out

    def _decode(self, text: Any, what: str) -> Any:
        """A JSON value read from the store; a StoreError if it does not decode."""
        try:
            return json.loads(text)
        except (TypeError, ValueError, RecursionError) as err:
            raise StoreError(f"Store {self.path} holds corrupt {what}: {err}.") from None

    def _trial_of(self, row: tuple[Any, ...], reports: dict[int, float] | _Corrupt) -> FrozenTrial:
        try:
            if isinstance(reports, _Corrupt):
                raise ValueError(f"a report's value is {reports.value!r}")
            return self._to_trial(row, reports)
        except (TypeError, ValueError, AttributeError, RecursionError) as err:
            raise StoreError(f"Store {self.path} holds a corrupt trial (id {row[0]}): "
                             f"{' '.join(str(err).split())[:200]}.") from None

    @staticmethod
    def _to_trial(row: tuple[Any, ...], reports: dict[int, float]) -> FrozenTrial:
        if any(isinstance(v, str) and _BAD_TEXT in v for v in row):
            raise ValueError("it holds text that is not UTF-8")
        metrics = json.loads(row[6]) if row[6] else {}
        return FrozenTrial(
            id=row[0], experiment_id=row[1], number=int(row[2]), arch=row[3], key=row[4],
            state=TrialState(row[5]),
            values={k: (math.nan if v is None else float(v)) for k, v in metrics.items()},
            error=row[7], intermediate=reports,
            started_at=None if row[8] is None else float(row[8]),
            finished_at=None if row[9] is None else float(row[9]),
        )


_BAD_TEXT = "\ufffd"


def _text(data: bytes) -> str:
    """Text read from the store; bytes that are not UTF-8 become U+FFFD (then refused)."""
    return data.decode("utf-8", errors="replace")


def _one_line(err: BaseException) -> str:
    """An error's message on one line (SQLite quotes multi-line schema text)."""
    return " ".join(str(err).split())[:300]


def _jsonable(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _statements(script: str) -> list[str]:
    """The SQL statements of a script, one by one (``execute`` takes one at a time)."""
    out, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    return out
