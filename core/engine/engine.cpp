#include "tedloc/engine.hpp"
#include "tedloc/executor.hpp"

#include <sys/types.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <torch/utils.h>

#include "tedloc/error.hpp"
#include "tedloc/host.hpp"
#include "tedloc/device.hpp"
#include "tedloc/slurm.hpp"
#include "tedloc/util.hpp"
#include "tedloc/stop.hpp"
#include "tedloc/version.hpp"

extern char** environ;

namespace tedloc {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::map<std::string, Executor>& executors() {
  static std::map<std::string, Executor> registry;
  return registry;
}

// Refreshes the heartbeat of this worker's running run, so other machines can tell it is alive.
class Heartbeat {
 public:
  Heartbeat(const std::string& db_path, WorkerId me) : thread_([this, db_path, me] {
    Store store(db_path);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::seconds(10), [this] { return done_; })) {
      try {
        store.heartbeat(me);
      } catch (const std::exception&) {
        // a busy database: the next beat will do
      }
    }
  }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

std::vector<pid_t> spawn_children(const GridOptions& options) {
  std::vector<pid_t> children;
  for (int j = 1; j < options.jobs; ++j) {
    std::vector<char*> argv;
    for (const auto& a : options.child_argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0) {
      children.push_back(pid);
    } else {
      std::fprintf(stderr, "tedloc: could not start worker %d; continuing with fewer workers\n", j);
    }
  }
  return children;
}

// A worker's share of this machine's cores when `jobs` workers run at once.
int threads_per_worker(int jobs) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, jobs));
}

// Today's executor: claim from the store until nothing is left, in this process and `--jobs` - 1 children.
GridResult run_local(GridContext& ctx) {
  const GridOptions& options = ctx.options;
  Store& store = ctx.store;
  const WorkerId me = WorkerId::current();
  GridResult result;
  const std::vector<pid_t> children = options.worker_only ? std::vector<pid_t>{} : spawn_children(options);
  const int threads = threads_per_worker(options.jobs);
  {
    Heartbeat heartbeat(options.db_path, me);
    const StatusCounts before = store.counts(ctx.experiment);
    Progress bar(ctx.spec.experiment, before.total(), options.progress && !options.worker_only, 30.0);
    bar.update(before.done + before.diverged + before.failed);
    while (!stop_requested()) {
      auto run = store.claim_next(ctx.experiment, me, git_revision(), ctx.work_root);
      if (!run) break;
      const std::string fate = execute_run(store, *run, ctx.host, me, threads, options.progress);
      ++result.ran;
      const StatusCounts now = store.counts(ctx.experiment);
      bar.update(now.done + now.diverged + now.failed, fmt::format("last: {} {}", fate, run->label));
    }
    const StatusCounts after = store.counts(ctx.experiment);
    bar.finish(fmt::format("{} done, {} failed, {} diverged", after.done, after.failed, after.diverged));
  }
  for (pid_t child : children) {
    int child_status = 0;
    while (waitpid(child, &child_status, 0) < 0 && errno == EINTR) {
    }
  }
  return result;
}

const ExecutorRegistration kLocal{"local", {run_local, nullptr}};

}  // namespace

ExecutorRegistration::ExecutorRegistration(const std::string& name, Executor executor) {
  executors()[name] = std::move(executor);
}

const Executor* find_executor(const std::string& name) {
  const auto it = executors().find(name);
  return it == executors().end() ? nullptr : &it->second;
}

const Executor& executor_named(const std::string& name) {
  const Executor* executor = find_executor(name);
  if (!executor) throw UsageError("--executor " + name + ": unknown" + suggest(name, executor_names()));
  return *executor;
}

std::vector<std::string> executor_names() {
  std::vector<std::string> names;
  for (const auto& [name, executor] : executors()) names.push_back(name);
  return names;
}

StopOnSignal::StopOnSignal() {
  install_stop_handlers("the running run's current step; it is recorded as interrupted and resumes on the next "
                        "`tedloc grid`");
}

StopOnSignal::~StopOnSignal() { restore_default_signals(); }

std::string execute_run(Store& store, const RunRecord& run, const PluginHost& host, const WorkerId& me, int threads,
                        bool progress) {
  std::error_code ec;
  fs::create_directories(run.work_dir, ec);
  std::ofstream log_file(run.work_dir + "/run.log", std::ios::app);
  auto log = [&](const std::string& line) {
    log_file << line << '\n';
    log_file.flush();
    std::fprintf(stderr, "[run %lld] %s\n", static_cast<long long>(run.id), line.c_str());
  };
  log(fmt::format("start: {} (attempt {}, worker {})", run.label, run.attempts, me.text));
  // A second signal ends the process at once: the run is still recorded, as interrupted.
  const AbortHook on_abort([db = store.path(), id = run.id, me] {
    Store(db).finish_run(id, "interrupted", "aborted by a second signal", me);
  });

  std::string status = "done";
  std::string message;
  try {
    const json config = json::parse(run.config_json);
    RunContext ctx;
    ctx.run_id = run.id;
    ctx.seed = config.at("seed").get<std::int64_t>();
    ctx.plugin.device = resolve_device(config.at("device").get<std::string>());
    ctx.plugin.work_dir = run.work_dir;
    ctx.params = Params(config);
    ctx.host = &host;
    ctx.stop_requested = &stop_flag();
    ctx.show_progress = progress;
    ctx.log = log;
    ctx.log_metric = [&](const std::string& split, const std::string& name, double value, int epoch) {
      store.log_metric(run.id, split, name, value, epoch);
    };
    ctx.add_artifact = [&](const std::string& kind, const std::string& path) {
      store.add_artifact(run.id, kind, path);
    };
    store.set_device(run.id, ctx.plugin.device.str());
    const int config_threads = config.at("threads").get<int>();
    at::set_num_threads(config_threads > 0 ? config_threads : threads);
    torch::manual_seed(static_cast<std::uint64_t>(ctx.seed));

    auto task = host.make<Task>(config.at("task").get<std::string>(), config, ctx.plugin);
    const PrecisionScope precision(ctx.plugin.device, config.at("precision").get<std::string>());
    const RunOutcome outcome = task->run(ctx);
    if (outcome.status == RunStatus::Diverged) {
      status = "diverged";
      message = outcome.message;
    }
  } catch (const Interrupted&) {
    status = "interrupted";
    message = "stopped by a signal";
  } catch (const c10::Error& e) {
    status = "failed";
    message = e.what_without_backtrace();
  } catch (const std::exception& e) {
    status = "failed";
    message = e.what();
  }
  store.finish_run(run.id, status, message, me);
  log(message.empty() ? status : status + ": " + message);
  return status;
}

std::string shard_path(const std::string& work_dir) { return work_dir + "/shard.db"; }

std::string write_cell_file(const std::string& experiment, const RunRecord& run) {
  fs::create_directories(run.work_dir);
  const std::string file = run.work_dir + "/cell.json";
  const json cell = {{"experiment", experiment}, {"label", run.label},   {"config_hash", run.config_hash},
                     {"task", run.task},         {"seed", run.seed},     {"config", json::parse(run.config_json)}};
  // Written whole or not at all: a task may start while a resubmission rewrites it.
  const std::string temporary = file + ".tmp";
  std::ofstream(temporary) << cell.dump(2) << "\n";
  fs::rename(temporary, file);
  return file;
}

int run_cell_file(const std::string& cell_file, const PluginHost& host, int threads, bool progress) {
  json cell;
  try {
    std::ifstream in(cell_file);
    if (!in) throw InputError(cell_file + ": cannot read the cell file");
    cell = json::parse(in);
    const std::string work_dir = fs::absolute(cell_file).parent_path().string();
    Store shard(shard_path(work_dir));
    const std::string experiment_name = cell.at("experiment").get<std::string>();
    const std::int64_t experiment = shard.upsert_experiment(experiment_name, "", "{}", "");
    const CellRecord record{cell.at("config_hash").get<std::string>(), canonical_config(cell.at("config")),
                            cell.at("task").get<std::string>(), cell.at("seed").get<std::int64_t>(),
                            cell.at("label").get<std::string>()};
    if (record.config_hash.size() < 16 || fs::path(work_dir).filename() != record.config_hash.substr(0, 16)) {
      throw InputError(cell_file + ": not in its run folder (" + record.config_hash.substr(0, 16) + ")");
    }
    shard.add_cells(experiment, {record});
    // This process is the shard's only writer: a run still `running` is an earlier attempt that died (a requeued
    // task, a lost node). The new attempt resumes from the run folder's checkpoint.
    shard.interrupt_running("an earlier attempt stopped before it finished; restarted");
    // The main store submitted this cell to be run: a failure or divergence the shard remembers runs again
    // (tedloc grid --rerun); a done run is kept.
    shard.reset_runs(experiment, {"failed", "diverged"});
    const StopOnSignal stop;
    const WorkerId me = WorkerId::current();
    std::string status = "done";
    if (auto run = shard.claim_next(experiment, me, git_revision(), fs::path(work_dir).parent_path().string())) {
      status = execute_run(shard, *run, host, me, threads, progress);
    } else {
      const auto runs = shard.runs(experiment_name);
      if (!runs.empty()) status = runs.front().status;  // done or failed before: nothing to do
    }
    shard.seal();
    if (status == "interrupted") return kExitInterrupted;
    return status == "failed" ? kExitRunFailed : kExitOk;
  } catch (const json::exception& e) {
    throw InputError(cell_file + ": not a cell file: " + e.what());
  }
}

GridResult run_grid(const Spec& spec, const std::vector<Cell>& cells, const PluginHost& host,
                    const GridOptions& options) {
  const Executor& executor = executor_named(options.executor);
  if (executor.check_settings) executor.check_settings(options.executor_settings, "the command line");
  Store store(options.db_path);
  std::int64_t experiment = 0;
  if (options.worker_only) {
    auto found = store.find_experiment(spec.experiment);
    if (!found) throw InputError(options.db_path + ": no experiment '" + spec.experiment + "' to work on");
    experiment = *found;
  } else {
    experiment = record_experiment(store, spec, cells, options.replace);
  }
  const int reaped = store.reap_dead_workers();
  if (reaped > 0 && options.progress) {
    std::fprintf(stderr, "%d run(s) whose worker had stopped are marked interrupted and will run again\n", reaped);
  }
  // Remote tasks that ended since the last look: their fate first, so that only unfinished cells run again.
  if (!options.worker_only) {
    const SlurmSync imported = sync_slurm(store);
    if (imported.imported > 0 && options.progress) {
      std::fprintf(stderr, "imported %d finished Slurm task(s) into %s\n", imported.imported, options.db_path.c_str());
    }
  }
  if (!options.worker_only && !options.rerun.empty()) store.reset_runs(experiment, options.rerun);

  const std::string work_root =
      fs::absolute(options.work_root.empty() ? options.db_path + ".runs" : options.work_root).lexically_normal().string();
  GridContext ctx{spec, cells, host, options, store, experiment, work_root};
  GridResult result;
  {
    const StopOnSignal stop;
    result = executor.run(ctx);
    result.interrupted = stop_requested();
  }
  result.counts = store.counts(experiment);
  return result;
}

std::size_t dropped_cells(const Store& store, const std::string& experiment, const std::vector<Cell>& cells) {
  const auto found = store.find_experiment(experiment);
  if (!found) return 0;
  std::set<std::string> now;
  for (const Cell& c : cells) now.insert(c.hash);
  std::size_t dropped = 0;
  for (const std::string& hash : store.cell_hashes(*found)) dropped += now.count(hash) == 0;
  return dropped;
}

std::int64_t record_experiment(Store& store, const Spec& spec, const std::vector<Cell>& cells, bool replace) {
  if (const std::size_t dropped = dropped_cells(store, spec.experiment, cells); dropped > 0) {
    const std::int64_t id = *store.find_experiment(spec.experiment);
    const int current = store.revision(id);
    if (!replace) {
      throw InputError(fmt::format(
          "{}: experiment '{}' in {} has {} cell(s) that this spec no longer yields (the spec or an input file "
          "changed). Its runs are kept. To record this spec as revision {} of '{}', run again with --replace "
          "(revision {} stays listed: tedloc runs --experiment {} --revision {}); or give the experiment another name",
          spec.file, spec.experiment, store.path(), dropped, current + 1, spec.experiment, current, spec.experiment,
          current));
    }
    const int next = store.start_revision(id);
    std::fprintf(stderr, "experiment '%s': revision %d; revision %d and its %zu cell(s) not in this one are kept\n",
                 spec.experiment.c_str(), next, current, dropped);
  }
  const std::int64_t experiment = store.upsert_experiment(spec.experiment, spec.description, spec.raw.dump(2), spec.file);
  std::vector<CellRecord> records;
  for (const auto& c : cells) {
    records.push_back({c.hash, canonical_config(c.resolved), c.resolved.at("task").get<std::string>(),
                       c.resolved.at("seed").get<std::int64_t>(), c.label});
  }
  store.add_cells(experiment, records);
  return experiment;
}

int grid_exit_code(const GridResult& result) {
  if (result.interrupted) return kExitInterrupted;
  if (result.detached) return result.counts.failed > 0 ? kExitRunFailed : kExitOk;  // the rest is still Slurm's
  if (result.counts.failed > 0 || result.counts.interrupted > 0 || result.counts.pending > 0) return kExitRunFailed;
  return kExitOk;
}

}  // namespace tedloc
