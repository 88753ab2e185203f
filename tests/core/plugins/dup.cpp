// Registers a task named like the probe's: the host must refuse this library as a duplicate.
#include <tedloc/plugin/task.hpp>

namespace {
struct Dup final : tedloc::Task {
  explicit Dup(const tedloc::Params&) {}
  tedloc::RunOutcome run(tedloc::RunContext&) override { return {}; }
};
}  // namespace

TEDLOC_PLUGINS(registrar) { registrar.add<tedloc::Task, Dup>({"probe", "9.9.9", "duplicate name", {}}); }
