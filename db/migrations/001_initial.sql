-- Schema version 1: experiments, runs (one per distinct resolved config), their link, metrics, artifacts,
-- and the event history of every run (each claim and each fate, so nothing is lost).
CREATE TABLE experiments (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT,
  spec_json   TEXT NOT NULL,
  spec_path   TEXT,
  created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE runs (
  id             INTEGER PRIMARY KEY,
  config_hash    TEXT NOT NULL UNIQUE,          -- sha256 of the canonical resolved config
  config_json    TEXT NOT NULL,                 -- the resolved config (every default filled in)
  task           TEXT NOT NULL,
  seed           INTEGER NOT NULL,
  status         TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'done', 'failed', 'diverged', 'interrupted')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  worker         TEXT,                          -- host/pid/start-time of the process that ran it last
  host           TEXT,
  pid            INTEGER,
  device         TEXT,
  git_revision   TEXT,
  tedloc_version TEXT,
  work_dir       TEXT,
  created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  started_at     TEXT,
  ended_at       TEXT,
  heartbeat_at   INTEGER,                       -- unix seconds, refreshed while running
  duration_s     REAL,
  error          TEXT,                          -- failure text, or the divergence step
  note           TEXT
);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE experiment_runs (
  experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  position      INTEGER NOT NULL,               -- the cell's index in the spec's expansion
  label         TEXT NOT NULL,                  -- the cell's axis values, e.g. "loss=kd seed=1"
  PRIMARY KEY (experiment_id, run_id)
);

CREATE TABLE metrics (
  run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  split       TEXT NOT NULL,
  name        TEXT NOT NULL,
  epoch       INTEGER NOT NULL DEFAULT -1,      -- -1: the run's final value
  value       REAL,                             -- NULL when the value was NaN
  recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (run_id, split, name, epoch)
);

CREATE TABLE artifacts (
  id         INTEGER PRIMARY KEY,
  run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  kind       TEXT NOT NULL,
  path       TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (run_id, kind, path)
);

CREATE TABLE run_events (
  id      INTEGER PRIMARY KEY,
  run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  event   TEXT NOT NULL,                        -- claimed, done, failed, diverged, interrupted, reset
  worker  TEXT,
  message TEXT
);
