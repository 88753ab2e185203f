// The slurm executor: the runnable cells of a grid become one Slurm job array (one task per cell), each task runs
// `tedloc grid --run-cell` on its cell file and writes its own shard; an import job (afterany) and every later
// `tedloc grid`/`runs`/`sync` bring the shards into the main store.
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <thread>

#include "tedloc/error.hpp"
#include "tedloc/executor.hpp"
#include "tedloc/slurm.hpp"
#include "tedloc/util.hpp"
#include "tedloc/version.hpp"

namespace tedloc {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A word for the shell: as is when it is plain, else in single quotes.
std::string shell_word(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                           std::string::npos) {
    return word;
  }
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// A file-name-safe form of an experiment's name.
std::string folder_name(const std::string& name) {
  std::string out;
  for (const char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  return out.empty() ? "experiment" : out;
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// The #SBATCH lines every job of the grid shares.
std::string common_directives(const SlurmSettings& s) {
  std::string text;
  if (!s.partition.empty()) text += "#SBATCH --partition=" + s.partition + "\n";
  return text;
}

std::string array_script(const GridContext& ctx, const SlurmSettings& s, const std::vector<RunRecord>& runs,
                         const std::string& log_dir) {
  const std::string exe = fs::canonical("/proc/self/exe").string();
  std::string text = fmt::format(
      "#!/bin/bash\n"
      "# tedloc grid --executor slurm: experiment \"{}\" ({}), {} cell(s), one array task each.\n"
      "# Written by tedloc {}. Each task runs its cell's run folder/cell.json and records the run in that folder's\n"
      "# shard.db (one writer); {} imports the shards (tedloc sync, tedloc runs, the import job).\n",
      one_line(ctx.spec.experiment), ctx.spec.file, runs.size(), version(), fs::absolute(ctx.options.db_path).string());
  text += fmt::format("#SBATCH --job-name=tedloc-{}\n", folder_name(ctx.spec.experiment));
  text += fmt::format("#SBATCH --array=0-{}{}\n", runs.size() - 1, s.max_parallel > 0 ? fmt::format("%{}", s.max_parallel) : "");
  text += fmt::format("#SBATCH --output={}/%A_%a.out\n", log_dir);
  text += "#SBATCH --open-mode=append\n";  // a requeued attempt adds to the log instead of truncating it
  text += common_directives(s);
  text += fmt::format("#SBATCH --cpus-per-task={}\n", s.cpus_per_task);
  if (s.gpus_per_task > 0) text += fmt::format("#SBATCH --gpus-per-task={}\n", s.gpus_per_task);
  if (!s.mem.empty()) text += "#SBATCH --mem=" + s.mem + "\n";
  if (!s.time.empty()) text += "#SBATCH --time=" + s.time + "\n";
  // Without --requeue a task whose node dies ends, and the next `tedloc grid` submits it again.
  text += s.requeue ? "#SBATCH --requeue\n" : "#SBATCH --no-requeue\n";
  for (const auto& a : s.sbatch_args) text += "#SBATCH " + a + "\n";
  text += "set -euo pipefail\ncells=(\n";
  for (std::size_t i = 0; i < runs.size(); ++i) {
    text += fmt::format("  {}  # {}: {}\n", shell_word(runs[i].work_dir), i, one_line(runs[i].label));
  }
  text += ")\ncell=${cells[$SLURM_ARRAY_TASK_ID]}\n";
  text += "echo \"tedloc: task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, "
          "on $(hostname) at $(date -Is): $cell\"\n";
  text += "exec " + shell_word(exe) + " grid --run-cell \"$cell/cell.json\" --no-progress";
  for (const auto& d : ctx.options.plugin_dirs) text += " --plugin-dir " + shell_word(fs::absolute(d).string());
  return text + "\n";
}

std::string import_script(const GridContext& ctx, const SlurmSettings& s, const std::string& array_job,
                          const std::string& log_dir) {
  const std::string exe = fs::canonical("/proc/self/exe").string();
  return fmt::format(
             "#!/bin/bash\n"
             "# tedloc: imports the shards of job array {} (experiment \"{}\") into the main store once every task\n"
             "# has ended, whatever its fate (afterany).\n"
             "#SBATCH --job-name=tedloc-import-{}\n"
             "#SBATCH --dependency=afterany:{}\n"
             "#SBATCH --output={}/import_%j.out\n"
             "#SBATCH --open-mode=append\n"
             "#SBATCH --cpus-per-task=1\n",
             array_job, one_line(ctx.spec.experiment), folder_name(ctx.spec.experiment), array_job, log_dir) +
         common_directives(s) + "exec " + shell_word(exe) + " sync --db " +
         shell_word(fs::absolute(ctx.options.db_path).string()) + "\n";
}

void write_text(const std::string& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  if (!out) throw InputError(file + ": cannot write");
}

// sbatch --parsable SCRIPT: the job id.
std::string submit(const std::string& script) {
  const CommandOutput out = run_command({"sbatch", "--parsable", script});
  if (out.exit_code == -1) {
    throw InputError("sbatch: not found: --executor slurm needs Slurm's commands (scripts/slurm-local.sh up starts a "
                     "one-node cluster)");
  }
  if (out.exit_code != 0) throw InputError(fmt::format("sbatch {}: {}", script, one_line(out.err.empty() ? out.out : out.err)));
  std::string id = out.out.substr(0, out.out.find_first_of(";\n"));  // "JOBID[;CLUSTER]"
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError(fmt::format("sbatch {}: unexpected answer '{}'", script, one_line(out.out)));
  }
  return id;
}

SlurmSettings settings_of(const GridContext& ctx) {
  SlurmSettings s;
  const auto block = ctx.spec.executor_settings.find("slurm");
  if (block != ctx.spec.executor_settings.end()) s = parse_slurm_settings(block->second, ctx.spec.file + ": /slurm");
  return parse_slurm_settings(ctx.options.executor_settings, "the command line", s);
}

// --wait: import as tasks end until none of the experiment's runs is left running.
void wait_for_tasks(GridContext& ctx) {
  const StatusCounts start = ctx.store.counts(ctx.experiment);
  Progress bar(ctx.spec.experiment, start.total(), ctx.options.progress, 30.0);
  while (!stop_requested()) {
    sync_slurm(ctx.store);
    const StatusCounts now = ctx.store.counts(ctx.experiment);
    bar.update(now.done + now.diverged + now.failed + now.interrupted, fmt::format("{} in Slurm", now.running));
    if (now.running == 0) break;
    for (int i = 0; i < 10 && !stop_requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const StatusCounts after = ctx.store.counts(ctx.experiment);
  bar.finish(fmt::format("{} done, {} failed, {} interrupted", after.done, after.failed, after.interrupted));
}

GridResult run_slurm(GridContext& ctx) {
  const SlurmSettings settings = settings_of(ctx);
  const WorkerId me = WorkerId::current();
  // Claim every runnable cell first, so that no other worker takes one while the array is submitted.
  std::vector<RunRecord> runs;
  while (auto run = ctx.store.claim_next(ctx.experiment, me, git_revision(), ctx.work_root)) runs.push_back(*run);
  GridResult result;
  if (!runs.empty()) {
    const std::string folder = ctx.work_root + "/slurm/" + folder_name(ctx.spec.experiment);
    const std::string log_dir = folder + "/logs";
    fs::create_directories(log_dir);
    std::string array_job;
    try {
      for (const auto& run : runs) write_cell_file(ctx.spec.experiment, run);
      const std::string script = folder + "/array.sbatch";
      write_text(script, array_script(ctx, settings, runs, log_dir));
      array_job = submit(script);
    } catch (const std::exception& e) {
      for (const auto& run : runs) ctx.store.finish_run(run.id, "interrupted", std::string("not submitted: ") + e.what(), me);
      throw;
    }
    std::vector<SlurmTask> tasks;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      tasks.push_back({array_job, static_cast<std::int64_t>(i), runs[i].id, shard_path(runs[i].work_dir),
                       runs[i].config_hash, runs[i].work_dir, "", ""});
    }
    ctx.store.record_slurm_submission(tasks);
    std::string import_job = "none";
    try {
      const std::string script = folder + "/import.sbatch";
      write_text(script, import_script(ctx, settings, array_job, log_dir));
      import_job = submit(script);
    } catch (const std::exception& e) {
      // The shards are still imported by the next `tedloc grid`, `runs` or `sync`.
      std::fprintf(stderr, "tedloc: the import job was not submitted (%s)\n", e.what());
    }
    std::fprintf(stderr, "submitted Slurm job array %s (%zu task(s), %s/array.sbatch; logs in %s), import job %s\n",
                 array_job.c_str(), runs.size(), folder.c_str(), log_dir.c_str(), import_job.c_str());
  }
  if (!ctx.options.wait) {
    result.detached = true;
    if (ctx.options.progress) {
      std::fprintf(stderr, "follow it: tedloc runs --db %s --experiment %s (or --wait)\n", ctx.options.db_path.c_str(),
                   ctx.spec.experiment.c_str());
    }
    return result;
  }
  wait_for_tasks(ctx);
  return result;
}

void check_slurm_settings(const json& settings, const std::string& where) { parse_slurm_settings(settings, where); }

const ExecutorRegistration kSlurm{"slurm", {run_slurm, check_slurm_settings}};

}  // namespace
}  // namespace tedloc
