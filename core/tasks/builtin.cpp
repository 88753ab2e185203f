#include "tedloc/tasks.hpp"

namespace tedloc {

void register_builtin_plugins(PluginRegistrar& registrar) {
  register_cam_eval_task(registrar);
  method::register_tedloc_task(registrar);
  method::register_baseline_eval_task(registrar);
}

}  // namespace tedloc
