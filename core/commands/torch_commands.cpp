#include <c10/util/Exception.h>

#include <cstdio>
#include <functional>
#include <map>

#include "tedloc/clip/mini_clip.hpp"
#include "tedloc/commands/clip_command.hpp"
#include "tedloc/commands/commands.hpp"
#include "tedloc/error.hpp"
#include "tedloc/stop.hpp"

int tedloc_torch_command(const std::string& name, const std::vector<std::string>& args) {
  using namespace tedloc;
  using Command = std::function<int(const std::vector<std::string>&)>;
  static const std::map<std::string, Command> commands = {
      {"grid", [](const std::vector<std::string>& a) { return grid_command(a, "/proc/self/exe"); }},
      {"plugins", plugins_command},
      {"data", data::data_command},
      {"clip forward", clip::clip_forward_command},
      {"clip train-mini", clip::train_mini_clip_command},
      {"report figures", reports::figures_command},
  };
  const auto it = commands.find(name);
  if (it == commands.end()) throw InternalError("libtedloc_commands.so has no command '" + name + "'");
  // The long builders stop at the next image or batch on SIGINT/SIGTERM (grid installs its own handlers).
  if (name == "data" || name == "clip train-mini") install_stop_handlers("the current image or batch");
  try {
    return it->second(args);
  } catch (const Interrupted&) {
    std::fprintf(stderr, "tedloc %s: interrupted; what it was writing is incomplete\n", name.c_str());
    return kExitInterrupted;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "tedloc %s: torch error: %s\n", name.c_str(), e.what_without_backtrace());
    return kExitRunFailed;
  }
}
