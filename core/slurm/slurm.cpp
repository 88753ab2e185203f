#include "tedloc/slurm.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fmt/format.h>
#include <set>
#include <sstream>

#include "tedloc/error.hpp"
#include "tedloc/util.hpp"

extern char** environ;

namespace tedloc {
using nlohmann::json;

CommandOutput run_command(const std::vector<std::string>& argv) {
  CommandOutput result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return result;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc == 0) {
    // Both pipes at once, so that a chatty stderr cannot block the child while we read stdout.
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    while (open_fds > 0) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buffer[4096];
        const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n > 0) {
          sinks[i]->append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  return result;
}

SlurmSettings parse_slurm_settings(const json& block, const std::string& where, SlurmSettings base) {
  auto fail = [&](const std::string& key, const std::string& reason) {
    throw InputError(fmt::format("{}{}: {}", where, key.empty() ? "" : "/" + key, reason));
  };
  if (!block.is_object()) fail("", "expected an object of Slurm settings, e.g. {\"partition\": \"gpu\", \"time\": \"2:00:00\"}");
  static const std::vector<std::string> known = {"partition", "gpus_per_task", "cpus_per_task", "mem", "time",
                                                 "max_parallel", "sbatch_args", "requeue"};
  auto text = [&](const std::string& key, const json& v) {
    if (!v.is_string() || v.get<std::string>().empty()) fail(key, "expected a non-empty string");
    return v.get<std::string>();
  };
  auto count = [&](const std::string& key, const json& v, int minimum) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < minimum || v.get<std::int64_t>() > 1000000) {
      fail(key, fmt::format("expected an integer >= {}", minimum));
    }
    return v.get<int>();
  };
  for (auto it = block.begin(); it != block.end(); ++it) {
    const std::string& key = it.key();
    const json& v = it.value();
    if (key == "partition") base.partition = text(key, v);
    else if (key == "mem") base.mem = text(key, v);
    else if (key == "time") base.time = text(key, v);
    else if (key == "gpus_per_task") base.gpus_per_task = count(key, v, 0);
    else if (key == "cpus_per_task") base.cpus_per_task = count(key, v, 1);
    else if (key == "max_parallel") base.max_parallel = count(key, v, 0);
    else if (key == "requeue") {
      if (!v.is_boolean()) fail(key, "expected true or false");
      base.requeue = v.get<bool>();
    } else if (key == "sbatch_args") {
      if (!v.is_array()) fail(key, "expected a list of sbatch options, e.g. [\"--qos=long\"]");
      for (std::size_t i = 0; i < v.size(); ++i) base.sbatch_args.push_back(text(fmt::format("{}/{}", key, i), v[i]));
    } else {
      fail(key, "unknown Slurm setting" + suggest(key, known));
    }
  }
  return base;
}

std::optional<std::map<std::string, JobState>> slurm_job_states() {
  const CommandOutput out = run_command({"squeue", "--me", "-h", "-r", "-t", "all", "-o", "%i|%T|%r"});
  if (out.exit_code != 0) return std::nullopt;
  std::map<std::string, JobState> states;
  std::istringstream lines(out.out);
  std::string line;
  while (std::getline(lines, line)) {
    const auto a = line.find('|');
    const auto b = line.find('|', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    states[line.substr(0, a)] = {line.substr(a + 1, b - a - 1), line.substr(b + 1)};
  }
  return states;
}

bool slurm_state_active(const std::string& state) {
  static const std::set<std::string> over = {"COMPLETED", "CANCELLED", "FAILED",   "TIMEOUT",      "NODE_FAIL",
                                             "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"};
  return !over.count(state);
}

namespace {

// What to do with one task that is over.
struct Import {
  SlurmTask task;
  std::optional<ShardRun> shard;
  std::optional<SlurmFate> fate;
};

// The shard's run, if the file holds one of this config (a shard left unreadable by a dead task holds nothing).
std::optional<ShardRun> read_shard(const SlurmTask& task) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(task.shard, ec)) return std::nullopt;
  try {
    const Store shard(task.shard, Store::Mode::ReadOnly);
    auto run = shard.shard_run();
    if (run && run->config_hash == task.config_hash) return run;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tedloc: shard of Slurm task %s unreadable: %s\n", task.slurm_id().c_str(), e.what());
  }
  return std::nullopt;
}

SlurmFate fate_of(const SlurmTask& task, const std::string& state, const std::string& reason) {
  // A task that failed on its own (non-zero exit, out of memory, a node that never booted) failed; one that Slurm
  // stopped (cancelled, timed out, preempted, lost with its node) was interrupted and runs again.
  static const std::set<std::string> failed = {"FAILED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "COMPLETED"};
  std::string message = fmt::format("Slurm job {}: {}", task.slurm_id(), state);
  if (!reason.empty() && reason != "None") message += " (" + reason + ")";
  if (state == "COMPLETED") message += ", but the run recorded no fate";
  return {state, failed.count(state) ? "failed" : "interrupted", message};
}

std::vector<Import> plan_imports(const Store& store) {
  std::vector<Import> plan;
  const auto tasks = store.slurm_tasks_to_import();
  if (tasks.empty()) return plan;
  const auto states = slurm_job_states();
  for (const auto& task : tasks) {
    if (!states) {
      // No cluster to ask: only a shard's own final fate can be trusted.
      auto shard = read_shard(task);
      if (shard && shard->finished()) plan.push_back({task, shard, std::nullopt});
      continue;
    }
    const auto it = states->find(task.slurm_id());
    if (it != states->end() && slurm_state_active(it->second.state)) continue;  // still Slurm's
    const SlurmFate fate = it == states->end() ? fate_of(task, "GONE", "no longer known to slurmctld")
                                               : fate_of(task, it->second.state, it->second.reason);
    plan.push_back({task, read_shard(task), fate});
  }
  return plan;
}

}  // namespace

bool slurm_sync_needed(const Store& store) { return !plan_imports(store).empty(); }

SlurmSync sync_slurm(Store& store) {
  SlurmSync result;
  for (const auto& item : plan_imports(store)) {
    const int changed = store.import_slurm_task(item.task, item.shard, item.fate, true);
    result.changes += changed;
    if (changed > 0) ++result.imported;
  }
  return result;
}

}  // namespace tedloc
