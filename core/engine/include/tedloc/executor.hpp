#pragma once
// Executors: how a grid's runnable cells get run. `local` claims them in this process (and --jobs children);
// `slurm` hands them to a job array. Every executor runs a cell through execute_run, in this process or in a
// remote one started on a cell file (run_cell_file). Another executor is one file that registers itself:
//   const ExecutorRegistration kMine{"mine", {run_mine, check_mine_settings}};
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tedloc/engine.hpp"
#include "tedloc/stop.hpp"

namespace tedloc {

// What an executor works with: the experiment is recorded, its cells are in the store, dead workers are reaped and
// finished remote tasks imported.
struct GridContext {
  const Spec& spec;
  const std::vector<Cell>& cells;
  const PluginHost& host;
  const GridOptions& options;
  Store& store;
  std::int64_t experiment = 0;
  std::string work_root;  // absolute: run folders are work_root/<first 16 hex digits of the config hash>
};

struct Executor {
  std::function<GridResult(GridContext&)> run;
  // Checks a settings object (the spec's block named after the executor, or the command line's); throws InputError
  // naming `where` and the key. Empty: the executor takes no settings.
  std::function<void(const nlohmann::json& settings, const std::string& where)> check_settings;
};

struct ExecutorRegistration {
  ExecutorRegistration(const std::string& name, Executor executor);
};
const Executor* find_executor(const std::string& name);
// The executor of that name; a UsageError "--executor NAME: unknown (did you mean ...)" otherwise.
const Executor& executor_named(const std::string& name);
std::vector<std::string> executor_names();

// Runs one claimed run in this process and records its fate (and its metrics, artifacts, events) in `store`.
// Returns the status: done, failed, diverged or interrupted.
std::string execute_run(Store& store, const RunRecord& run, const PluginHost& host, const WorkerId& me, int threads,
                        bool progress);

// While it lives, SIGINT and SIGTERM ask the runs to stop (tedloc/stop.hpp: stop_requested(), check_stop());
// a second signal aborts at once, the running run still recorded as interrupted.
class StopOnSignal {
 public:
  StopOnSignal();
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
};

// A cell for a remote worker: RUN_FOLDER/cell.json with the experiment, the cell's label and resolved config.
// Returns its path.
std::string write_cell_file(const std::string& experiment, const RunRecord& run);
// Runs a cell file's cell in this process, recording it in its own store, RUN_FOLDER/shard.db (a shard: this process
// is its only writer), which the main store imports. A run an earlier attempt left running resumes (the task's
// checkpoint in the run folder) as a new attempt. Returns the exit code (error.hpp) for the run's fate.
int run_cell_file(const std::string& cell_file, const PluginHost& host, int threads, bool progress);
// RUN_FOLDER/shard.db for a run folder.
std::string shard_path(const std::string& work_dir);

}  // namespace tedloc
