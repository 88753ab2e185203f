-- Schema version 3: experiments by revision. A grid may add cells to an experiment but never silently drop one:
-- a spec (or an input file) that no longer yields a recorded cell needs `tedloc grid --replace`, which keeps the
-- earlier revision here, its spec and its cells' links, and numbers the new one. Nothing is deleted.
ALTER TABLE experiments ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;

CREATE TABLE experiment_revisions (
  experiment_id INTEGER NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  revision      INTEGER NOT NULL,
  spec_json     TEXT NOT NULL,
  spec_path     TEXT,
  replaced_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (experiment_id, revision)
);

CREATE TABLE experiment_revision_runs (
  experiment_id INTEGER NOT NULL,
  revision      INTEGER NOT NULL,
  run_id        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  position      INTEGER NOT NULL,
  label         TEXT NOT NULL,
  PRIMARY KEY (experiment_id, revision, run_id),
  FOREIGN KEY (experiment_id, revision) REFERENCES experiment_revisions (experiment_id, revision) ON DELETE CASCADE
);
