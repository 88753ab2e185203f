#pragma once
// The tasks compiled into the workbench (what a grid cell runs): cam_eval, tedloc, baseline_eval.
#include "tedloc/plugin/abi.hpp"

namespace tedloc {

// Adds every built-in task to `registrar`: pass it to PluginHost's constructor.
void register_builtin_plugins(PluginRegistrar& registrar);

}  // namespace tedloc
