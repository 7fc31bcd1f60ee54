-- archsearch store, schema version 2.
-- Version 2 added trial_artifacts and experiment_state; a version 1 file gains them on open.
-- Every statement is idempotent (IF NOT EXISTS): the migration runs this whole script.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    number        INTEGER NOT NULL,
    arch          TEXT NOT NULL,
    key           TEXT NOT NULL,
    state         TEXT NOT NULL,
    metrics       TEXT,
    error         TEXT,
    started_at    REAL,
    finished_at   REAL,
    UNIQUE (experiment_id, number)
);
CREATE INDEX IF NOT EXISTS trials_by_key ON trials (experiment_id, key);
CREATE TABLE IF NOT EXISTS trial_reports (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    step     INTEGER NOT NULL,
    value    REAL NOT NULL,
    PRIMARY KEY (trial_id, step)
);
-- Small JSON values kept with a trial (e.g. a one-shot search's architecture weights).
CREATE TABLE IF NOT EXISTS trial_artifacts (
    trial_id INTEGER NOT NULL REFERENCES trials(id),
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (trial_id, name)
);
-- One resumable state per experiment (e.g. torch.save bytes), written with a trial's end.
CREATE TABLE IF NOT EXISTS experiment_state (
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments(id),
    step          INTEGER NOT NULL,
    blob          BLOB NOT NULL
);
