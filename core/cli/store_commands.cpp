// `tedloc runs`, `tedloc query` and `tedloc sync`. `runs` and `query` read the store and never write it, except that
// `runs` first imports the runs of Slurm tasks that have ended (sync), when there are any.
#include "tedloc/cli/commands.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tedloc/cli_options.hpp"
#include "tedloc/error.hpp"
#include "tedloc/slurm.hpp"
#include "tedloc/store.hpp"

namespace tedloc {
namespace po = boost::program_options;
using nlohmann::json;

int runs_command(const std::vector<std::string>& args) {
  po::options_description options("tedloc runs options");
  options.add_options()("help,h", "show this help")("db", po::value<std::string>()->default_value("tedloc.db"),
                                                    "the SQLite store")(
      "experiment,e", po::value<std::string>()->default_value(""), "only this experiment")(
      "revision", po::value<int>()->default_value(0),
      "with --experiment: the cells of this earlier revision (0: the current one; tedloc grid --replace starts one)")(
      "status,s", po::value<std::string>()->default_value(""),
      "only runs in this state: pending, running, done, failed, diverged, interrupted")(
      "json", "one JSON object per line instead of a table");
  po::variables_map vm;
  if (!parse_command_line(args, options, {}, vm, "usage: tedloc runs [--db FILE] [--experiment NAME [--revision N]] [--status S] [--json]")) {
    return kExitOk;
  }
  const std::string db = vm["db"].as<std::string>();
  // A write only when Slurm tasks have ended since the last import; otherwise the store stays read-only.
  if (slurm_sync_needed(Store(db, Store::Mode::ReadOnly))) {
    Store writable(db);
    sync_slurm(writable);
  }
  const Store store(db, Store::Mode::ReadOnly);
  const std::string status = vm["status"].as<std::string>();
  const std::vector<std::string> statuses = {"pending", "running", "done", "failed", "diverged", "interrupted"};
  if (!status.empty() && std::find(statuses.begin(), statuses.end(), status) == statuses.end()) {
    throw UsageError("--status " + status + ": not a run state (pending, running, done, failed, diverged, interrupted)");
  }
  const int revision = vm["revision"].as<int>();
  if (revision < 0) throw UsageError("--revision must be >= 0");
  if (revision > 0 && vm["experiment"].as<std::string>().empty()) throw UsageError("--revision needs --experiment");
  const auto runs = store.runs(vm["experiment"].as<std::string>(), status, revision);
  // The live state of the runs Slurm holds (worker "slurm:JOB_TASK"), from squeue.
  auto slurm_job = [](const RunRecord& r) { return r.worker.rfind("slurm:", 0) == 0 ? r.worker.substr(6) : ""; };
  const bool any_slurm = std::any_of(runs.begin(), runs.end(), [&](const RunRecord& r) { return !slurm_job(r).empty(); });
  std::map<std::string, JobState> states;
  if (std::any_of(runs.begin(), runs.end(), [&](const RunRecord& r) { return r.status == "running" && !slurm_job(r).empty(); })) {
    states = slurm_job_states().value_or(std::map<std::string, JobState>{});
  }
  auto slurm_state = [&](const RunRecord& r) -> std::string {
    if (r.status != "running" || slurm_job(r).empty()) return "";
    const auto it = states.find(slurm_job(r));
    if (it == states.end()) return "?";
    const JobState& s = it->second;
    return s.reason.empty() || s.reason == "None" ? s.state : s.state + " (" + s.reason + ")";
  };
  if (vm.count("json")) {
    for (const auto& r : runs) {
      json line = {{"id", r.id},         {"experiment", r.experiment}, {"label", r.label},
                   {"status", r.status}, {"seed", r.seed},             {"attempts", r.attempts},
                   {"device", r.device}, {"duration_s", r.duration_s}, {"error", r.error},
                   {"config_hash", r.config_hash}, {"config", json::parse(r.config_json)}};
      if (!slurm_job(r).empty()) {
        line["slurm_job"] = slurm_job(r);
        line["slurm_state"] = slurm_state(r);
      }
      std::cout << line.dump() << "\n";
    }
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : runs) {
    rows.push_back({std::to_string(r.id), r.experiment, r.label, r.status, std::to_string(r.attempts), r.device,
                    r.duration_s > 0 ? fmt::format("{:.1f}", r.duration_s) : "", r.error});
    if (any_slurm) rows.back().insert(rows.back().begin() + 4, {slurm_job(r), slurm_state(r)});
  }
  std::vector<std::string> columns = {"id", "experiment", "cell", "status", "tries", "device", "seconds", "error"};
  if (any_slurm) columns.insert(columns.begin() + 4, {"slurm job", "slurm state"});
  print_table(columns, rows);
  return kExitOk;
}

int sync_command(const std::vector<std::string>& args) {
  po::options_description options("tedloc sync options");
  options.add_options()("help,h", "show this help")("db", po::value<std::string>()->default_value("tedloc.db"),
                                                    "the SQLite store");
  po::variables_map vm;
  if (!parse_command_line(args, options, {}, vm,
             "usage: tedloc sync [--db FILE]\n\nImports into the store the runs of Slurm array tasks that have "
             "ended (each task's shard: run, metrics, artifacts, events), and Slurm's reason for tasks it stopped. "
             "Idempotent: a second sync changes nothing. `tedloc grid` and `tedloc runs` do it too, and so does "
             "the import job a slurm grid submits after its array.")) {
    return kExitOk;
  }
  const std::string db = vm["db"].as<std::string>();
  if (!std::filesystem::is_regular_file(db)) throw InputError(db + ": no such database (run `tedloc grid` first)");
  Store store(db);
  const SlurmSync result = sync_slurm(store);
  std::cout << fmt::format("{}: imported {} Slurm task(s), {} row(s) changed\n", db, result.imported, result.changes);
  return kExitOk;
}

int query_command(const std::vector<std::string>& args) {
  po::options_description options("tedloc query options");
  options.add_options()("help,h", "show this help")("sql", po::value<std::string>()->required(), "the SQL")(
      "db", po::value<std::string>()->default_value("tedloc.db"), "the SQLite store")(
      "csv", "comma-separated output")("json", "one JSON object per row");
  po::positional_options_description positional;
  positional.add("sql", 1);
  po::variables_map vm;
  if (!parse_command_line(args, options, positional, vm,
             "usage: tedloc query \"SQL\" [--db FILE] [--csv|--json]\n\nRuns SQL on a read-only connection. "
             "Tables: experiments, runs, experiment_runs, metrics, artifacts, run_events, experiment_revisions, "
             "experiment_revision_runs, slurm_tasks.")) {
    return kExitOk;
  }
  const std::string db = vm["db"].as<std::string>();
  const QueryResult result = Store(db, Store::Mode::ReadOnly).query(vm["sql"].as<std::string>());
  if (vm.count("json")) {
    for (const auto& row : result.rows) {
      json object = json::object();
      for (std::size_t c = 0; c < row.size(); ++c) object[result.columns[c]] = row[c];
      std::cout << object.dump() << "\n";
    }
  } else if (vm.count("csv")) {
    auto quote = [](const std::string& s) {
      if (s.find_first_of(",\"\n") == std::string::npos) return s;
      std::string out = "\"";
      for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      return out + "\"";
    };
    for (std::size_t c = 0; c < result.columns.size(); ++c) std::cout << (c ? "," : "") << quote(result.columns[c]);
    std::cout << "\n";
    for (const auto& row : result.rows) {
      for (std::size_t c = 0; c < row.size(); ++c) std::cout << (c ? "," : "") << quote(row[c]);
      std::cout << "\n";
    }
  } else {
    print_table(result.columns, result.rows);
  }
  return kExitOk;
}

}  // namespace tedloc
