// `tedloc`: the workbench's command line. It links only the torch-free libraries, so that `--version`, `runs`,
// `query`, `eval` and `report TABLE` start in milliseconds; the torch commands load libtedloc_commands.so on
// demand (torch_command). This file only dispatches and maps errors to exit codes.
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tedloc/cli/commands.hpp"
#include "tedloc/cli/eval_command.hpp"
#include "tedloc/cli/tokenize_command.hpp"
#include "tedloc/error.hpp"
#include "tedloc/version.hpp"

namespace {

struct Command {
  std::function<int(const std::vector<std::string>&)> run;
  const char* summary;
};

// `tedloc clip SUBCOMMAND ...`
int clip_command(const std::vector<std::string>& args) {
  const std::map<std::string, std::function<int(const std::vector<std::string>&)>> sub = {
      {"tokenize", [](const std::vector<std::string>& a) { return tedloc::text::tokenize_command(a); }},
      {"forward", [](const std::vector<std::string>& a) { return tedloc::torch_command("clip forward", a); }},
      {"train-mini", [](const std::vector<std::string>& a) { return tedloc::torch_command("clip train-mini", a); }},
  };
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || !sub.count(args[0])) {
    std::printf(
        "usage: tedloc clip tokenize --vocab FILE      text lines on stdin -> one JSON array of 77 ids per line\n"
        "       tedloc clip forward --weights W --inputs IN.safetensors --out OUT.safetensors\n"
        "       tedloc clip train-mini --data DIR --out FILE.safetensors   train the embedded benchmark's mini-CLIP\n"
        "(tedloc clip SUBCOMMAND --help for its options)\n");
    return !args.empty() && (args[0] == "--help" || args[0] == "-h") ? tedloc::kExitOk : tedloc::kExitUsage;
  }
  return sub.at(args[0])(std::vector<std::string>(args.begin() + 1, args.end()));
}

void usage(const std::map<std::string, Command>& commands) {
  std::printf("tedloc %s: the TeD-Loc workbench for weakly supervised object localization\n\n", tedloc::version());
  std::printf("usage: tedloc COMMAND [options]   (tedloc COMMAND --help for its options)\n\ncommands:\n");
  for (const auto& [name, command] : commands) std::printf("  %-10s %s\n", name.c_str(), command.summary);
  std::printf(
      "\nexit codes: 0 success, 1 some run failed, 2 bad command line, 3 bad input (spec, file, plugin),\n"
      "4 internal error (a bug or a broken installation), 130 interrupted\n");
}

// A command of libtedloc_commands.so.
Command torch(const char* name, const char* summary) {
  return {[name](const std::vector<std::string>& a) { return tedloc::torch_command(name, a); }, summary};
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, Command> commands = {
      {"grid", torch("grid", "run an experiment grid from a JSON spec")},
      {"runs", {tedloc::runs_command, "list runs and their fate"}},
      {"query", {tedloc::query_command, "run read-only SQL on the store"}},
      {"sync", {tedloc::sync_command, "import the runs of finished Slurm tasks into the store"}},
      {"plugins", torch("plugins", "list plugins, or --describe NAME")},
      {"eval", {tedloc::eval::eval_command, "MaxBoxAcc / MaxBoxAccV2 / PxAP of .npy score maps (the reference's protocol)"}},
      {"data", torch("data", "build a dataset: tedloc data fashion-wsol --out DIR")},
      {"clip", {clip_command, "CLIP: tokenize text, forward a checkpoint"}},
      {"report", {tedloc::reports::report_command, "the paper's tables (md, latex, csv) and figures (PNG) from the store"}},
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
  } catch (const tedloc::InternalError& e) {
    std::fprintf(stderr, "tedloc %s: internal error: %s\n", argv[1], e.what());
    return tedloc::kExitInternal;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tedloc %s: error: %s\n", argv[1], e.what());
    return tedloc::kExitRunFailed;
  }
}
