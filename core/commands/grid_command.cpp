#include "tedloc/commands/commands.hpp"

#include "tedloc/cli_options.hpp"

#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <thread>

#include "tedloc/engine.hpp"
#include "tedloc/executor.hpp"
#include "tedloc/error.hpp"
#include "tedloc/host.hpp"
#include "tedloc/tasks.hpp"

namespace tedloc {
namespace po = boost::program_options;
using nlohmann::json;

namespace {

void add_plugin_dir_option(po::options_description& options) {
  options.add_options()("plugin-dir", po::value<std::vector<std::string>>()->composing(),
                        "also load the plugins in this folder (repeatable; $TEDLOC_PLUGIN_PATH too)");
}

// The host with every default and requested plugin folder scanned; refused libraries are reported.
std::unique_ptr<PluginHost> make_host(const po::variables_map& vm, bool report_errors = true) {
  auto host = std::make_unique<PluginHost>(register_builtin_plugins);
  for (const auto& dir : PluginHost::default_dirs()) host->scan(dir);
  if (vm.count("plugin-dir")) {
    for (const auto& dir : vm["plugin-dir"].as<std::vector<std::string>>()) {
      if (!std::filesystem::is_directory(dir)) throw UsageError("--plugin-dir " + dir + ": no such folder");
      host->scan(dir);
    }
  }
  if (report_errors) {
    for (const auto& e : host->errors()) std::fprintf(stderr, "tedloc: plugin refused: %s\n", e.c_str());
  }
  return host;
}

std::string type_text(const ParamDecl& d) {
  return d.type == ParamType::Plugin ? "plugin:" + d.plugin_kind : to_string(d.type);
}

}  // namespace

int grid_command(const std::vector<std::string>& args, const std::string& argv0) {
  po::options_description options("tedloc grid options");
  options.add_options()("help,h", "show this help")(
      "spec", po::value<std::string>(), "the experiment spec (JSON)")(
      "db", po::value<std::string>()->default_value("tedloc.db"), "the SQLite store")(
      "work-dir", po::value<std::string>(), "run folders (default: <db>.runs)")(
      "dry-run", "validate and list the cells and their state; run nothing")(
      "replace", "the spec drops cells the experiment has: record it as the experiment's next revision (the "
      "earlier one and its runs are kept)")(
      "jobs,j", po::value<int>()->default_value(1), "worker processes on this machine")(
      "rerun", po::value<std::vector<std::string>>()->composing(),
      "run cells in this state again: failed, diverged (repeatable)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override the base config: dotted.path=VALUE (repeatable), e.g. --set data.images=/data/CUB/images")(
      "no-progress", "no progress bar")("worker", "internal: a child worker of --jobs")(
      "run-cell", po::value<std::string>(), "internal: run one cell file in its own shard (a Slurm array task)")(
      "executor", po::value<std::string>()->default_value("local"),
      "local (this machine) or slurm (one job array; the spec's \"slurm\" block gives defaults)");
  po::options_description slurm_options("with --executor slurm (defaults from the spec's \"slurm\" block)");
  slurm_options.add_options()("partition", po::value<std::string>(), "sbatch --partition")(
      "gpus-per-task", po::value<int>(), "sbatch --gpus-per-task")(
      "cpus-per-task", po::value<int>(), "sbatch --cpus-per-task (default 1)")(
      "mem", po::value<std::string>(), "sbatch --mem, e.g. 16G")(
      "time", po::value<std::string>(), "sbatch --time, e.g. 2:00:00")(
      "max-parallel", po::value<int>(), "at most this many array tasks at once (sbatch --array=0-(N-1)%P)")(
      "sbatch-arg", po::value<std::vector<std::string>>()->composing(),
      "another sbatch option, as --sbatch-arg=--qos=long (repeatable)")(
      "requeue", "let Slurm requeue a task whose node dies or that is preempted; it resumes from its checkpoint")(
      "wait", "block until the array's tasks end (a progress bar), importing their runs");
  options.add(slurm_options);
  add_plugin_dir_option(options);
  po::positional_options_description positional;
  positional.add("spec", 1);
  po::variables_map vm;
  if (!parse_command_line(args, options, positional, vm,
             "usage: tedloc grid SPEC.json [--db FILE] [--dry-run] [--jobs N] [--rerun failed]\n"
             "       tedloc grid SPEC.json --db FILE --executor slurm [--partition P] [--gpus-per-task N]\n"
             "                   [--cpus-per-task N] [--mem M] [--time T] [--max-parallel N] [--sbatch-arg ARG]...\n"
             "                   [--requeue] [--wait]\n\n"
             "Runs every cell of an experiment grid (base config x axes x seeds) and records each run's fate\n"
             "and metrics in the store. Cells already done are skipped; runs whose process died are run again.\n"
             "Several `tedloc grid` processes may work on the same spec and database at once.\n\n"
             "With --executor slurm the cells not done are submitted as one Slurm job array (the script is\n"
             "<db>.runs/slurm/EXPERIMENT/array.sbatch); each task writes its run into its own shard, which the\n"
             "store imports at the next `tedloc grid`, `tedloc runs` or `tedloc sync`, and in a final import job.")) {
    return kExitOk;
  }
  if (vm.count("run-cell")) {
    // A Slurm array task (or any remote worker): the cell file holds the resolved config; no spec, no main store.
    auto host = make_host(vm, false);
    const char* slurm_cpus = std::getenv("SLURM_CPUS_PER_TASK");
    const int threads = slurm_cpus && std::atoi(slurm_cpus) > 0
                            ? std::atoi(slurm_cpus)
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return run_cell_file(vm["run-cell"].as<std::string>(), *host, threads, !vm.count("no-progress"));
  }
  if (!vm.count("spec")) throw UsageError("the spec file is missing: tedloc grid SPEC.json (see --help)");
  GridOptions grid;
  grid.db_path = vm["db"].as<std::string>();
  if (vm.count("work-dir")) grid.work_root = vm["work-dir"].as<std::string>();
  grid.dry_run = vm.count("dry-run") > 0;
  grid.replace = vm.count("replace") > 0;
  grid.jobs = vm["jobs"].as<int>();
  if (grid.jobs < 1) throw UsageError("--jobs must be at least 1");
  grid.progress = !vm.count("no-progress");
  grid.worker_only = vm.count("worker") > 0;
  if (vm.count("rerun")) {
    for (const auto& s : vm["rerun"].as<std::vector<std::string>>()) {
      if (s != "failed" && s != "diverged") throw UsageError("--rerun takes failed or diverged, not " + s);
      grid.rerun.push_back(s);
    }
  }
  grid.executor = vm["executor"].as<std::string>();
  executor_named(grid.executor);  // a mistyped executor is a usage error before the spec is even read
  grid.wait = vm.count("wait") > 0;
  {
    json& settings = grid.executor_settings;
    for (const char* key : {"partition", "mem", "time"}) {
      if (vm.count(key)) settings[key] = vm[key].as<std::string>();
    }
    for (const auto& [flag, key] : {std::pair{"gpus-per-task", "gpus_per_task"}, {"cpus-per-task", "cpus_per_task"},
                                    {"max-parallel", "max_parallel"}}) {
      if (vm.count(flag)) settings[key] = vm[flag].as<int>();
    }
    if (vm.count("sbatch-arg")) settings["sbatch_args"] = vm["sbatch-arg"].as<std::vector<std::string>>();
    if (vm.count("requeue")) settings["requeue"] = true;
    for (const auto& option : slurm_options.options()) {
      if (grid.executor != "slurm" && vm.count(option->long_name())) {
        throw UsageError("--" + option->long_name() + " needs --executor slurm");
      }
    }
  }
  if (vm.count("plugin-dir")) grid.plugin_dirs = vm["plugin-dir"].as<std::vector<std::string>>();
  const std::string spec_path = vm["spec"].as<std::string>();
  grid.child_argv = {argv0, "grid", spec_path, "--db", grid.db_path, "--worker", "--no-progress"};
  if (!grid.work_root.empty()) grid.child_argv.insert(grid.child_argv.end(), {"--work-dir", grid.work_root});
  if (vm.count("plugin-dir")) {
    for (const auto& d : vm["plugin-dir"].as<std::vector<std::string>>()) {
      grid.child_argv.insert(grid.child_argv.end(), {"--plugin-dir", d});
    }
  }

  auto host = make_host(vm, !grid.worker_only);
  Spec spec = load_spec(spec_path);
  if (vm.count("set")) {
    apply_overrides(spec, vm["set"].as<std::vector<std::string>>());
    for (const auto& s : vm["set"].as<std::vector<std::string>>()) grid.child_argv.insert(grid.child_argv.end(), {"--set", s});
  }
  // A --jobs child works on the cells its parent validated and stored: expanding again would only repeat the
  // validation and the hashing of every input file.
  const std::vector<Cell> cells = grid.worker_only ? std::vector<Cell>{} : expand_spec(spec, *host);

  if (grid.dry_run) {
    std::vector<std::vector<std::string>> rows;
    std::map<std::string, std::string> state;
    std::size_t dropped = 0;
    if (std::filesystem::exists(grid.db_path)) {
      const Store store(grid.db_path, Store::Mode::ReadOnly);
      for (const auto& r : store.runs()) state[r.config_hash] = r.status;
      dropped = dropped_cells(store, spec.experiment, cells);
    }
    for (const auto& c : cells) {
      const auto it = state.find(c.hash);
      rows.push_back({std::to_string(c.index), c.label, c.hash.substr(0, 12), it == state.end() ? "new" : it->second});
    }
    print_table({"cell", "axes", "hash", "state"}, rows);
    std::cout << fmt::format("{}: {} cells ({} axes x {} seeds); nothing run (--dry-run)\n", spec.experiment,
                             cells.size(), spec.axes.size(), spec.seeds.size());
    if (dropped > 0)
      std::cout << fmt::format("{}: {} recorded cell(s) are not in this spec: running it needs --replace (a new "
                               "revision; the earlier one is kept)\n", spec.experiment, dropped);
    return kExitOk;
  }

  const auto db_folder = std::filesystem::path(grid.db_path).parent_path();
  if (!db_folder.empty()) std::filesystem::create_directories(db_folder);
  const GridResult result = run_grid(spec, cells, *host, grid);
  if (!grid.worker_only) {
    const StatusCounts& c = result.counts;
    std::cout << fmt::format(
        "{}: {} cells: {} done, {} diverged, {} failed, {} interrupted, {} pending, {} running elsewhere "
        "({} run by this process)\n",
        spec.experiment, c.total(), c.done, c.diverged, c.failed, c.interrupted, c.pending, c.running, result.ran);
    if (c.failed > 0) {
      std::cout << "see the failures: tedloc runs --db " << grid.db_path << " --experiment " << spec.experiment
                << " --status failed\n";
    }
  }
  return grid_exit_code(result);
}

int plugins_command(const std::vector<std::string>& args) {
  po::options_description options("tedloc plugins options");
  options.add_options()("help,h", "show this help")("describe,d", po::value<std::string>(),
                                                    "print the parameters of the plugin NAME")(
      "json", "machine-readable output");
  add_plugin_dir_option(options);
  po::variables_map vm;
  if (!parse_command_line(args, options, {}, vm,
             "usage: tedloc plugins [--describe NAME] [--plugin-dir DIR]... [--json]\n\n"
             "Lists the plugins found (kind, name, version, file) and any library that was refused.")) {
    return kExitOk;
  }
  auto host = make_host(vm, false);
  if (vm.count("describe")) {
    const std::string name = vm["describe"].as<std::string>();
    bool found = false;
    for (const auto& e : host->entries()) {
      if (e.info.name != name) continue;
      found = true;
      std::cout << fmt::format("{} {} {} ({})\n  {}\n\nparameters:\n", e.kind, e.info.name, e.info.version, e.file,
                               e.info.summary);
      if (e.info.params.empty()) std::cout << "  (none)\n";
      for (const auto& d : e.info.params) {
        std::string def = d.required ? "required" : "default " + d.default_value.dump();
        if (!d.choices.empty()) {
          std::string list;
          for (const auto& c : d.choices) list += (list.empty() ? "" : "|") + c;
          def += ", one of " + list;
        }
        if (d.minimum) def += fmt::format(", {} {}", d.minimum_exclusive ? ">" : ">=", json(*d.minimum).dump());
        if (d.maximum) def += fmt::format(", <= {}", json(*d.maximum).dump());
        std::cout << fmt::format("  {:<24} {:<14} {}\n  {:<24} {:<14} {}\n", d.name, type_text(d), d.help, "", "",
                                 def);
      }
    }
    if (!found) {
      throw InputError("no plugin named '" + name + "' (see `tedloc plugins`)");
    }
    return kExitOk;
  }
  if (vm.count("json")) {
    json list = json::array();
    for (const auto& e : host->entries()) {
      json params = json::array();
      for (const auto& d : e.info.params) {
        json param = {{"name", d.name}, {"type", type_text(d)}, {"default", d.default_value},
                      {"required", d.required}, {"help", d.help}};
        if (d.minimum) param[d.minimum_exclusive ? "exclusive_minimum" : "minimum"] = *d.minimum;
        if (d.maximum) param["maximum"] = *d.maximum;
        params.push_back(param);
      }
      list.push_back({{"kind", e.kind}, {"name", e.info.name}, {"version", e.info.version}, {"file", e.file},
                      {"summary", e.info.summary}, {"params", params}});
    }
    std::cout << json{{"plugins", list}, {"refused", host->errors()}}.dump(2) << "\n";
    return host->errors().empty() ? kExitOk : kExitBadInput;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : host->entries()) {
    rows.push_back({e.kind, e.info.name, e.info.version, std::filesystem::path(e.file).filename().string(),
                    e.info.summary});
  }
  print_table({"kind", "name", "version", "file", "summary"}, rows);
  for (const auto& e : host->errors()) std::cout << "refused: " << e << "\n";
  return host->errors().empty() ? kExitOk : kExitBadInput;
}

}  // namespace tedloc
