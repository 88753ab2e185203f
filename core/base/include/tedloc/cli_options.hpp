#pragma once
// Command-line parsing shared by every `tedloc` command.
#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace tedloc {

// Parses `args` against `options` (+ positionals). For --help prints `usage` and the options and returns
// false; a bad command line throws UsageError ("... (see --help)").
bool parse_command_line(const std::vector<std::string>& args, const boost::program_options::options_description& options,
                        const boost::program_options::positional_options_description& positional,
                        boost::program_options::variables_map& vm, const std::string& usage);

// Prints rows under their column names, aligned; a cell over 60 characters is cut with "...".
void print_table(const std::vector<std::string>& columns, const std::vector<std::vector<std::string>>& rows);

}  // namespace tedloc
