// `tedloc report figures`: the paper's figures (PNG) from the store; the tables are torch-free (core/cli).
#include <boost/program_options.hpp>
#include <iostream>
#include <sstream>

#include "tedloc/cli_options.hpp"
#include "tedloc/commands/commands.hpp"
#include "tedloc/error.hpp"
#include "tedloc/reports/figures.hpp"

namespace tedloc::reports {
namespace {

namespace po = boost::program_options;

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace

int figures_command(const std::vector<std::string>& args) {
  po::options_description options("tedloc report figures options");
  options.add_options()("help,h", "show this help")(
      "db", po::value<std::string>()->default_value("tedloc.db"), "the SQLite store")(
      "out", po::value<std::string>()->required(), "the folder for the PNG files")(
      "experiment", po::value<std::vector<std::string>>()->composing(),
      "only the runs of this experiment (repeatable; default: every experiment)")(
      "classes", po::value<std::string>()->default_value(""),
      "comma-separated class names for the anchors figure (default: the 10 FashionWSOL classes)")(
      "max-overlays", po::value<int>()->default_value(12), "overlay tiles per run")(
      "columns", po::value<int>()->default_value(4), "overlay tiles per row");
  po::variables_map vm;
  if (!parse_command_line(args, options, {}, vm,
             "usage: tedloc report figures --db FILE --out DIR [--experiment NAME]... [--classes A,B,...]\n\n"
             "Writes anchors_cosine.png (the anchors' cosine similarity before and after orthogonalisation),\n"
             "curves_EXPERIMENT_runID.png (per-epoch loss terms, val MaxBoxAcc and CL, best epoch marked) and\n"
             "overlays_EXPERIMENT_runID.png (maps over images, GT boxes green, predicted red).")) {
    return kExitOk;
  }
  FigureOptions figure;
  figure.out_dir = vm["out"].as<std::string>();
  if (vm.count("experiment")) figure.experiments = vm["experiment"].as<std::vector<std::string>>();
  figure.class_names = split_commas(vm["classes"].as<std::string>());
  figure.max_overlays = vm["max-overlays"].as<int>();
  figure.overlay_columns = vm["columns"].as<int>();
  if (figure.max_overlays < 1 || figure.overlay_columns < 1) throw UsageError("--max-overlays and --columns must be >= 1");
  const std::string db = vm["db"].as<std::string>();
  const Store store(db, Store::Mode::ReadOnly);
  for (const auto& path : write_figures(store, figure)) std::cout << path << "\n";
  return kExitOk;
}

}  // namespace tedloc::reports
