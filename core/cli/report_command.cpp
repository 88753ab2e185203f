// `tedloc report`: a table of the paper from the store, the list of tables, or the figures.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "tedloc/cli/commands.hpp"
#include "tedloc/cli_options.hpp"
#include "tedloc/error.hpp"
#include "tedloc/reports/report.hpp"

namespace tedloc::reports {
namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;

void write_output(const std::string& text, const std::string& out) {
  if (out.empty()) {
    std::cout << text;
    return;
  }
  const fs::path parent = fs::path(out).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  std::ofstream file(out, std::ios::binary);
  if (!(file << text) || !file.flush()) throw InputError(out + ": cannot write the report");
}

}  // namespace

int report_command(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "figures") return torch_command("report figures", {args.begin() + 1, args.end()});
  po::options_description options("tedloc report options");
  options.add_options()("help,h", "show this help")("name", po::value<std::string>(), "the table, e.g. table2")(
      "db", po::value<std::string>()->default_value("tedloc.db"), "the SQLite store")(
      "format", po::value<std::string>()->default_value("md"), "md, latex or csv")(
      "out", po::value<std::string>()->default_value(""), "write to this file (default: stdout)")(
      "tables", po::value<std::string>()->default_value(default_tables_path()), "the table definitions")(
      "list", "list the tables");
  po::positional_options_description positional;
  positional.add("name", 1);
  po::variables_map vm;
  if (!parse_command_line(args, options, positional, vm,
             "usage: tedloc report NAME --db FILE [--format md|latex|csv] [--out FILE]\n"
             "       tedloc report --list\n"
             "       tedloc report figures --db FILE --out DIR   (see tedloc report figures --help)\n\n"
             "A table of the paper from the store: one row per configuration, each cell the mean +- sample std\n"
             "over the seeds of its done runs; a footnote counts the runs left out (failed, diverged, pending).\n"
             "Tables are defined in the --tables file (reports/README.md tells how to add one).")) {
    return kExitOk;
  }
  const std::vector<TableSpec> specs = load_table_specs(vm["tables"].as<std::string>());
  if (vm.count("list")) {
    for (const auto& spec : specs) std::cout << fmt::format("{:<8} {:<26} {}\n", spec.name, spec.experiment, spec.title);
    return kExitOk;
  }
  if (!vm.count("name")) throw UsageError("which table? (tedloc report --list shows them)");
  const Format format = parse_format(vm["format"].as<std::string>());
  const TableSpec& spec = find_table(specs, vm["name"].as<std::string>());
  const Store store(vm["db"].as<std::string>(), Store::Mode::ReadOnly);  // a report never creates or changes one
  write_output(render(build_table(store, spec), format), vm["out"].as<std::string>());
  return kExitOk;
}

}  // namespace tedloc::reports
