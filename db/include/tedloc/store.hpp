#pragma once
// The SQLite store of experiments, runs, metrics and artifacts (schema: db/migrations/*.sql).
// Many processes may share one file: WAL, a busy timeout, and every state change in a transaction.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tedloc {

// Who is running a run: "host/pid/start-ticks". A run whose worker is gone is `interrupted`.
struct WorkerId {
  std::string host;
  std::int64_t pid = 0;
  std::string text;  // host/pid/start-ticks
  static WorkerId current();
};

struct CellRecord {
  std::string config_hash;
  std::string config_json;  // resolved
  std::string task;
  std::int64_t seed = 0;
  std::string label;
};

struct RunRecord {
  std::int64_t id = 0;
  std::string config_hash, config_json, task, status, label, experiment, worker, device, error;
  std::string started_at, ended_at, work_dir;
  std::int64_t seed = 0, attempts = 0;
  double duration_s = 0;
};

struct StatusCounts {
  int pending = 0, running = 0, done = 0, failed = 0, diverged = 0, interrupted = 0;
  int total() const { return pending + running + done + failed + diverged + interrupted; }
};

// A run handed to Slurm: one array task of a submitted job array, and the shard (SQLite file) it writes.
struct SlurmTask {
  std::string job_id;          // the array job's id
  std::int64_t array_task = 0;
  std::int64_t run_id = 0;
  std::string shard;           // absolute path
  std::string config_hash, work_dir;
  std::string submitted_at, imported_at;
  std::string slurm_id() const { return job_id + "_" + std::to_string(array_task); }  // as squeue shows it
};

// Everything a shard holds of its one run, as the importer copies it into the main store.
struct ShardRun {
  std::string config_hash, status, worker, host, device, git_revision, tedloc_version, work_dir;
  std::string started_at, ended_at, error;
  std::int64_t attempts = 0, pid = 0;
  double duration_s = 0;
  struct Metric {
    std::string split, name, recorded_at;
    int epoch = -1;
    std::optional<double> value;  // NULL when NaN
  };
  struct Artifact {
    std::string kind, path, created_at;
  };
  struct Event {
    std::int64_t id = 0;
    std::string at, event, worker, message;
  };
  std::vector<Metric> metrics;
  std::vector<Artifact> artifacts;
  std::vector<Event> events;
  bool finished() const { return status != "pending" && status != "running"; }
};

// How Slurm ended a task whose shard has no final fate of its own (killed hard, lost with its node, never started).
struct SlurmFate {
  std::string state;    // Slurm's job state: COMPLETED, CANCELLED, TIMEOUT, NODE_FAIL, ...
  std::string status;   // the run's fate then: interrupted or failed
  std::string message;  // "Slurm job 12_3: CANCELLED (reason)"
};

// The rows of a read-only query, as text (NULL as "NULL").
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

class Store {
 public:
  // Opens the database file. Throws InputError naming the file.
  // ReadWrite creates the file and migrates its schema as needed. ReadOnly never writes: the file must exist and
  // have this tedloc's schema; in a folder that cannot be written it is opened immutable (no -wal/-shm files).
  enum class Mode { ReadWrite, ReadOnly };
  explicit Store(const std::string& path, Mode mode = Mode::ReadWrite);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  static int latest_schema_version();
  int schema_version() const;
  const std::string& path() const { return path_; }

  std::int64_t upsert_experiment(const std::string& name, const std::string& description,
                                 const std::string& spec_json, const std::string& spec_path);
  std::optional<std::int64_t> find_experiment(const std::string& name) const;
  // Inserts the cells not yet known (by hash) as pending runs and links every cell to the experiment.
  void add_cells(std::int64_t experiment, const std::vector<CellRecord>& cells);
  // The config hashes of the experiment's cells (its current revision), and that revision's number.
  std::vector<std::string> cell_hashes(std::int64_t experiment) const;
  int revision(std::int64_t experiment) const;
  // Keeps the current revision (its spec and its cells' links) in experiment_revisions and
  // experiment_revision_runs and numbers the next one, which it returns. Nothing is deleted.
  int start_revision(std::int64_t experiment);
  // Marks `running` runs whose worker is gone as `interrupted`: same host and the process is dead,
  // or no heartbeat for `stale_after_s` seconds. Returns how many.
  int reap_dead_workers(int stale_after_s = 120);
  // Sets the experiment's runs with one of `statuses` back to pending (for --rerun).
  int reset_runs(std::int64_t experiment, const std::vector<std::string>& statuses);
  // Atomically takes the experiment's next pending or interrupted run; marks it running for `me`.
  // Its work_dir is WORK_ROOT/<first 16 hex digits of the config hash>.
  std::optional<RunRecord> claim_next(std::int64_t experiment, const WorkerId& me, const std::string& git_revision,
                                      const std::string& work_root);
  void set_device(std::int64_t run, const std::string& device);
  void finish_run(std::int64_t run, const std::string& status, const std::string& message, const WorkerId& me);
  void heartbeat(const WorkerId& me);
  // Records a computation done outside the grid (e.g. `tedloc eval --db`) as a done run of `experiment`,
  // with its metrics (split, name, value), in one transaction. A config seen before is updated in place.
  struct Metric {
    std::string split, name;
    double value;
  };
  std::int64_t record_done_run(const std::string& experiment, const CellRecord& cell, const std::vector<Metric>& metrics,
                               const WorkerId& me, const std::string& git_revision);
  void log_metric(std::int64_t run, const std::string& split, const std::string& name, double value, int epoch);
  void add_artifact(std::int64_t run, const std::string& kind, const std::string& path);

  // Slurm. Marks each task's run as owned by its array task ("slurm:JOB_TASK") and records the task, in one
  // transaction (the runs were claimed by this process before sbatch).
  void record_slurm_submission(const std::vector<SlurmTask>& tasks);
  // The tasks whose run they still own and whose fate has not reached this store yet.
  std::vector<SlurmTask> slurm_tasks_to_import() const;
  // The one run of a shard (this store is the shard), or nothing when it has none.
  std::optional<ShardRun> shard_run() const;
  // Brings a task's fate into this (main) store in one transaction: the shard's run, metrics, artifacts and events
  // when it has them; `fate` when Slurm ended the task and the shard says nothing final (a 'slurm' run_event then
  // records Slurm's reason). `final`: the task is over (its imported_at is set). Idempotent: importing the same
  // thing again changes nothing. Returns the number of rows changed.
  int import_slurm_task(const SlurmTask& task, const std::optional<ShardRun>& shard, const std::optional<SlurmFate>& fate,
                        bool final);
  // For a shard's single writer: marks its `running` runs (a previous attempt that died) interrupted. Returns how many.
  int interrupt_running(const std::string& message);
  // Folds the WAL into the file and leaves it in rollback-journal mode: one self-contained file that a reader on
  // another host can open read-only.
  void seal();

  StatusCounts counts(std::int64_t experiment) const;
  // Runs by experiment (all: "") and status (all: ""); revision 0 is the current one, an earlier revision lists
  // the cells it had.
  std::vector<RunRecord> runs(const std::string& experiment = "", const std::string& status = "",
                              int revision = 0) const;
  // Runs SQL on a read-only connection (writes are refused by SQLite).
  QueryResult query(const std::string& sql) const;

  // Typed reads for the reports: one query each, with bound parameters.
  struct ExperimentRun {
    std::int64_t id = 0;
    std::string label, status, work_dir;
    // Per requested JSON path of the run's config: SQLite's json_type ("" when absent) and json_extract as text.
    std::vector<std::pair<std::string, std::string>> config_values;
  };
  struct RunMetric {
    std::int64_t run = 0;
    std::string split, name;
    int epoch = -1;
    double value = 0;
  };
  struct RunArtifact {
    std::int64_t run = 0;
    std::string label, path, work_dir;
  };
  std::vector<std::string> experiment_names() const;  // in creation order
  // The experiment's runs in cell order. A malformed JSON path is an InputError.
  std::vector<ExperimentRun> experiment_runs(std::int64_t experiment, const std::vector<std::string>& json_paths = {}) const;
  // The final metrics (epoch -1, not NULL) of the experiment's done runs.
  std::vector<RunMetric> final_metrics_of_done_runs(std::int64_t experiment) const;
  // Every non-NULL metric of one run, by split, name and epoch.
  std::vector<RunMetric> run_metrics(std::int64_t run) const;
  // The artifacts of one kind of the experiment's runs, by run and then in recording order.
  std::vector<RunArtifact> experiment_artifacts(std::int64_t experiment, const std::string& kind) const;

 private:
  void open_read_only();
  void mark_interrupted(std::int64_t run, const std::string& worker, const std::string& error, const std::string& event_message);
  struct Db;
  std::string path_;
  std::unique_ptr<Db> db_;
};

}  // namespace tedloc
