#pragma once
// The torch-free `tedloc` commands (each takes the arguments after its name and returns an exit code,
// error.hpp), and the door to the torch ones, which live in libtedloc_commands.so (core/commands).
#include <string>
#include <vector>

namespace tedloc {

int runs_command(const std::vector<std::string>& args);   // tedloc runs
int query_command(const std::vector<std::string>& args);  // tedloc query
int sync_command(const std::vector<std::string>& args);   // tedloc sync

namespace reports {
// `tedloc report NAME --db FILE --format md|latex|csv [--out FILE] [--tables FILE]`, `tedloc report --list`;
// `tedloc report figures ...` goes to the torch commands.
int report_command(const std::vector<std::string>& args);
}  // namespace reports

// Runs a torch command ("grid", "plugins", "data", "clip forward", "clip train-mini", "report figures") from
// libtedloc_commands.so, loaded on first use next to this library (build tree) or in <prefix>/lib.
// Loading it costs LibTorch's start-up (~0.4 s); the commands above never pay it.
int torch_command(const std::string& name, const std::vector<std::string>& args);

}  // namespace tedloc
