#pragma once
// The `tedloc` sub-commands of the core. Each takes the arguments after its name and returns an exit code
// (error.hpp). `argv0` is the executable, used to start child workers.
#include <string>
#include <vector>

namespace tedloc {

int grid_command(const std::vector<std::string>& args, const std::string& argv0);
int runs_command(const std::vector<std::string>& args);
int query_command(const std::vector<std::string>& args);
int plugins_command(const std::vector<std::string>& args);

}  // namespace tedloc
