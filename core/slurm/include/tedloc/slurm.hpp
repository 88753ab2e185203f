#pragma once
// Slurm without LibTorch: running its commands, a spec's "slurm" settings, its live job states, and bringing the
// array tasks' shards (one SQLite file per task) into the main store.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tedloc/store.hpp"

namespace tedloc {

// What a finished command printed and how it ended.
struct CommandOutput {
  int exit_code = -1;  // -1: it could not be started (not installed); 128 + N: killed by signal N
  std::string out, err;
};

// Runs argv (argv[0] searched in PATH), no shell, and captures stdout and stderr.
CommandOutput run_command(const std::vector<std::string>& argv);

// How a grid's job array is submitted: the spec's "slurm" block, then the command line.
struct SlurmSettings {
  std::string partition, mem, time;  // empty: Slurm's default
  int gpus_per_task = 0, cpus_per_task = 1;
  int max_parallel = 0;              // the array's %P (0: no limit)
  std::vector<std::string> sbatch_args;
  bool requeue = false;              // let Slurm requeue a task whose node dies or that is preempted
};

// Reads a settings object over `base`: keys partition, gpus_per_task, cpus_per_task, mem, time, max_parallel,
// sbatch_args, requeue. Throws InputError "WHERE/key: reason" (an unknown key with a did-you-mean).
SlurmSettings parse_slurm_settings(const nlohmann::json& block, const std::string& where, SlurmSettings base = {});

// A job's (or array task's, "12_3") state as squeue reports it.
struct JobState {
  std::string state, reason;
};
// Every job of this user that slurmctld still knows (squeue -t all, array tasks expanded), by id; nothing when
// squeue cannot be run or fails (no cluster).
std::optional<std::map<std::string, JobState>> slurm_job_states();
// PENDING, RUNNING, COMPLETING, REQUEUED, ...: the task is not over (a requeued one runs again).
bool slurm_state_active(const std::string& state);

struct SlurmSync {
  int imported = 0;  // tasks whose final fate reached the store
  int changes = 0;   // rows changed
};
// Whether syncing would write: some task is over in Slurm (or, with no cluster reachable, its shard is final).
bool slurm_sync_needed(const Store& store);
// Imports every task that is over: its shard's run, metrics, artifacts and events, or Slurm's fate for a task that
// left none (cancelled before it started, lost with its node), in one transaction each. Idempotent.
SlurmSync sync_slurm(Store& store);

}  // namespace tedloc
