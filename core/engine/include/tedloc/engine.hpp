#pragma once
// The grid engine: spec -> cells -> runs -> metrics. An executor (executor.hpp) runs the cells: `local` claims them
// from the store, one at a time per worker; `slurm` submits them as one job array.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tedloc/spec.hpp"
#include "tedloc/store.hpp"

namespace tedloc {

class PluginHost;

struct GridOptions {
  std::string db_path = "tedloc.db";
  std::string work_root;              // run folders; default: next to the database, "<db>.runs"
  bool dry_run = false;
  int jobs = 1;                       // worker processes (this one + jobs - 1 children)
  std::vector<std::string> rerun;     // statuses to run again: "failed", "diverged"
  bool progress = true;
  bool worker_only = false;           // a child started by another `tedloc grid --jobs N`
  std::vector<std::string> child_argv;  // how to start a child worker (argv[0] = this executable)
  std::string executor = "local";     // local, slurm (executor_names())
  // The executor's settings from the command line, over the spec's block of the same name ("slurm": {...}).
  nlohmann::json executor_settings = nlohmann::json::object();
  bool wait = false;                  // a remote executor waits for its tasks to end (slurm: --wait)
  bool replace = false;               // the spec may drop recorded cells: a new revision (record_experiment)
  std::vector<std::string> plugin_dirs;  // --plugin-dir folders, for remote workers
};

struct GridResult {
  StatusCounts counts;  // the experiment's runs after this invocation
  int ran = 0;          // runs this process finished (any fate)
  bool interrupted = false;
  bool detached = false;  // the cells were handed to a scheduler and this process did not wait for them
};

// Records the experiment and its cells, then works until no runnable cell is left.
GridResult run_grid(const Spec& spec, const std::vector<Cell>& cells, const PluginHost& host,
                    const GridOptions& options);

// How many of the experiment's recorded cells `cells` no longer holds (the spec or an input file changed).
std::size_t dropped_cells(const Store& store, const std::string& experiment, const std::vector<Cell>& cells);

// Records the experiment and its cells. A grid may add cells to an experiment but never silently drop one:
// when `cells` lacks a recorded cell this is an InputError unless `replace`, which keeps the current revision
// (spec and cells, Store::start_revision) and records the spec as the next one.
std::int64_t record_experiment(Store& store, const Spec& spec, const std::vector<Cell>& cells, bool replace);

// The exit code for a grid's outcome (error.hpp): failures or interruptions are not success.
int grid_exit_code(const GridResult& result);


}  // namespace tedloc
