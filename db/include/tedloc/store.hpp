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

  StatusCounts counts(std::int64_t experiment) const;
  std::vector<RunRecord> runs(const std::string& experiment = "", const std::string& status = "") const;
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
  struct Db;
  std::string path_;
  std::unique_ptr<Db> db_;
};

}  // namespace tedloc
