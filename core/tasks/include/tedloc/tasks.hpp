#pragma once
// The tasks compiled into the workbench (what a grid cell runs): cam_eval, tedloc, baseline_eval.
#include "tedloc/plugin/abi.hpp"

namespace tedloc {

// Adds every built-in task to `registrar`: pass it to PluginHost's constructor.
void register_builtin_plugins(PluginRegistrar& registrar);

// One task each (cam_eval_task.cpp, tedloc_task.cpp, baseline_eval_task.cpp).
void register_cam_eval_task(PluginRegistrar& registrar);
namespace method {
void register_tedloc_task(PluginRegistrar& registrar);
void register_baseline_eval_task(PluginRegistrar& registrar);
}  // namespace method

}  // namespace tedloc
