// `tedloc`: the workbench's command line. Each command lives in the core (or a component) as
// NAME_command(args); this file only dispatches and maps errors to exit codes.
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tedloc/commands.hpp"
#include "tedloc/error.hpp"
#include "tedloc/version.hpp"

namespace {

struct Command {
  std::function<int(const std::vector<std::string>&)> run;
  const char* summary;
};

void usage(const std::map<std::string, Command>& commands) {
  std::printf("tedloc %s: the TeD-Loc workbench for weakly supervised object localization\n\n", tedloc::version());
  std::printf("usage: tedloc COMMAND [options]   (tedloc COMMAND --help for its options)\n\ncommands:\n");
  for (const auto& [name, command] : commands) std::printf("  %-10s %s\n", name.c_str(), command.summary);
  std::printf(
      "\nexit codes: 0 success, 1 some run failed, 2 bad command line, 3 bad input (spec, file, plugin),\n"
      "130 interrupted\n");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string argv0 = "/proc/self/exe";
  std::map<std::string, Command> commands = {
      {"grid", {[&](const auto& a) { return tedloc::grid_command(a, argv0); }, "run an experiment grid from a JSON spec"}},
      {"runs", {tedloc::runs_command, "list runs and their fate"}},
      {"query", {tedloc::query_command, "run read-only SQL on the store"}},
      {"plugins", {tedloc::plugins_command, "list plugins, or --describe NAME"}},
  };
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage(commands);
    return argc < 2 ? tedloc::kExitUsage : tedloc::kExitOk;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("tedloc %s\n", tedloc::version());
    return tedloc::kExitOk;
  }
  const auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "tedloc: unknown command '%s' (see tedloc --help)\n", argv[1]);
    return tedloc::kExitUsage;
  }
  try {
    return it->second.run(std::vector<std::string>(argv + 2, argv + argc));
  } catch (const tedloc::UsageError& e) {
    std::fprintf(stderr, "tedloc %s: %s\n", argv[1], e.what());
    return tedloc::kExitUsage;
  } catch (const tedloc::InputError& e) {
    std::fprintf(stderr, "tedloc %s: error: %s\n", argv[1], e.what());
    return tedloc::kExitBadInput;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "tedloc %s: torch error: %s\n", argv[1], e.what_without_backtrace());
    return tedloc::kExitRunFailed;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tedloc %s: error: %s\n", argv[1], e.what());
    return tedloc::kExitRunFailed;
  }
}
