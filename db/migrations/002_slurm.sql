-- Schema version 2: runs handed to Slurm. Each array task writes its run into its own SQLite file (a shard, one
-- writer); the main store imports it. run_events.origin names an imported event ("shard:HASH16:ID") or a Slurm
-- fate ("slurm:JOB_TASK:STATE"), so that importing again never adds it twice.
CREATE TABLE slurm_tasks (
  job_id       TEXT NOT NULL,                   -- the array job's id
  array_task   INTEGER NOT NULL,                -- SLURM_ARRAY_TASK_ID
  run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  shard        TEXT NOT NULL,                   -- the task's SQLite file, beside its run folder
  submitted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  imported_at  TEXT,                            -- when its final fate reached this store
  slurm_state  TEXT,                            -- Slurm's last word on it (COMPLETED, CANCELLED, ...)
  PRIMARY KEY (job_id, array_task)
);
CREATE INDEX slurm_tasks_run ON slurm_tasks (run_id);

ALTER TABLE run_events ADD COLUMN origin TEXT;
CREATE UNIQUE INDEX run_events_origin ON run_events (origin) WHERE origin IS NOT NULL;
