#include "tedloc/engine.hpp"

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
#include <mutex>
#include <thread>
#include <torch/utils.h>

#include "tedloc/error.hpp"
#include "tedloc/host.hpp"
#include "tedloc/device.hpp"
#include "tedloc/util.hpp"
#include "tedloc/stop.hpp"
#include "tedloc/version.hpp"

extern char** environ;

namespace tedloc {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

// Runs one claimed run in this process and records its fate. Returns the status.
std::string execute(Store& store, const RunRecord& run, const PluginHost& host, const WorkerId& me, int threads,
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

}  // namespace


GridResult run_grid(const Spec& spec, const std::vector<Cell>& cells, const PluginHost& host,
                    const GridOptions& options) {
  Store store(options.db_path);
  const WorkerId me = WorkerId::current();
  std::int64_t experiment = 0;
  if (options.worker_only) {
    auto found = store.find_experiment(spec.experiment);
    if (!found) throw InputError(options.db_path + ": no experiment '" + spec.experiment + "' to work on");
    experiment = *found;
  } else {
    experiment = store.upsert_experiment(spec.experiment, spec.description, spec.raw.dump(2), spec.file);
    std::vector<CellRecord> records;
    for (const auto& c : cells) {
      records.push_back({c.hash, canonical_config(c.resolved), c.resolved.at("task").get<std::string>(),
                         c.resolved.at("seed").get<std::int64_t>(), c.label});
    }
    store.add_cells(experiment, records);
  }
  const int reaped = store.reap_dead_workers();
  if (reaped > 0 && options.progress) {
    std::fprintf(stderr, "%d run(s) whose worker had stopped are marked interrupted and will run again\n", reaped);
  }
  if (!options.worker_only && !options.rerun.empty()) store.reset_runs(experiment, options.rerun);

  GridResult result;
  const std::string work_root =
      fs::absolute(options.work_root.empty() ? options.db_path + ".runs" : options.work_root).lexically_normal().string();
  install_stop_handlers("the running run's current step; it is recorded as interrupted and resumes on the next "
                        "`tedloc grid`");

  const std::vector<pid_t> children = options.worker_only ? std::vector<pid_t>{} : spawn_children(options);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::max(1, cores / std::max(1, options.jobs));
  {
    Heartbeat heartbeat(options.db_path, me);
    const StatusCounts before = store.counts(experiment);
    Progress bar(spec.experiment, before.total(), options.progress && !options.worker_only, 30.0);
    bar.update(before.done + before.diverged + before.failed);
    while (!stop_requested()) {
      auto run = store.claim_next(experiment, me, git_revision(), work_root);
      if (!run) break;
      const std::string fate = execute(store, *run, host, me, threads, options.progress);
      ++result.ran;
      const StatusCounts now = store.counts(experiment);
      bar.update(now.done + now.diverged + now.failed, fmt::format("last: {} {}", fate, run->label));
    }
    const StatusCounts after = store.counts(experiment);
    bar.finish(fmt::format("{} done, {} failed, {} diverged", after.done, after.failed, after.diverged));
  }
  for (pid_t child : children) {
    int child_status = 0;
    while (waitpid(child, &child_status, 0) < 0 && errno == EINTR) {
    }
  }
  result.interrupted = stop_requested();
  result.counts = store.counts(experiment);
  restore_default_signals();
  return result;
}

int grid_exit_code(const GridResult& result) {
  if (result.interrupted) return kExitInterrupted;
  if (result.counts.failed > 0 || result.counts.interrupted > 0 || result.counts.pending > 0) return kExitRunFailed;
  return kExitOk;
}

}  // namespace tedloc
