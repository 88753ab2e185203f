#pragma once
// The `tedloc` commands that need LibTorch, in libtedloc_commands.so: the `tedloc` executable loads it on
// demand (core/cli/torch_command.cpp) through the one C symbol below. Each command takes the arguments after
// its name and returns an exit code (error.hpp).
#include <boost/config.hpp>
#include <string>
#include <vector>

namespace tedloc {

// `argv0` is the executable, used to start child workers.
int grid_command(const std::vector<std::string>& args, const std::string& argv0);
int plugins_command(const std::vector<std::string>& args);

namespace data {
// `tedloc data <dataset> [options]`.
int data_command(const std::vector<std::string>& args);
}  // namespace data

namespace reports {
// `tedloc report figures --db FILE --out DIR ...` (figures.hpp).
int figures_command(const std::vector<std::string>& args);
}  // namespace reports

}  // namespace tedloc

// The module's entry: NAME is "grid", "plugins", "data", "clip forward", "clip train-mini" or "report figures".
// A LibTorch error that escapes a command is printed here (exit 1); other errors reach the caller.
extern "C" BOOST_SYMBOL_EXPORT int tedloc_torch_command(const std::string& name, const std::vector<std::string>& args);
