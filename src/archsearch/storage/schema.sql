-- archsearch store, schema version 1.
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
