#include "tedloc/cli_options.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <iostream>

#include "tedloc/error.hpp"

namespace tedloc {
namespace po = boost::program_options;

bool parse_command_line(const std::vector<std::string>& args, const po::options_description& options,
                        const po::positional_options_description& positional, po::variables_map& vm,
                        const std::string& usage) {
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << options << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

void print_table(const std::vector<std::string>& columns, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(columns.size());
  for (std::size_t c = 0; c < columns.size(); ++c) {
    width[c] = columns[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], std::min<std::size_t>(r[c].size(), 60));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      std::string cell = cells[c].size() > 60 ? cells[c].substr(0, 57) + "..." : cells[c];
      out += fmt::format("{:<{}}", cell, width[c]) + (c + 1 < cells.size() ? "  " : "");
    }
    std::cout << out << "\n";
  };
  line(columns);
  std::vector<std::string> rule;
  for (auto w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& r : rows) line(r);
}

}  // namespace tedloc
