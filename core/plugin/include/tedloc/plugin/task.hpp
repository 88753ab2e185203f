#pragma once
// Plugin kind `task`: what one grid cell does (train + evaluate, evaluate a baseline, ...).
// The cell's config is {"task": NAME, "seed": S, "device": D, "threads": T, ...the task's parameters}.
#include <atomic>
#include <functional>
#include <optional>

#include "tedloc/plugin/abi.hpp"
#include "tedloc/stop.hpp"  // Interrupted, thrown by a task that saw stop_requested

namespace tedloc {

class PluginHost;

enum class RunStatus { Done, Diverged };

struct RunOutcome {
  RunStatus status = RunStatus::Done;
  std::string message;  // e.g. "loss is NaN at epoch 3 step 12"
};

// Everything a running task may use. Metrics and artifacts go straight to the store.
struct RunContext {
  std::int64_t run_id = 0;
  std::int64_t seed = 0;
  PluginContext plugin;          // device, class names, work_dir (the run's own folder)
  Params params;                 // the task's resolved parameters
  const PluginHost* host = nullptr;
  std::function<void(const std::string& split, const std::string& name, double value, int epoch)> log_metric;
  std::function<void(const std::string& kind, const std::string& path)> add_artifact;
  std::function<void(const std::string& line)> log;  // a line for the run's log (and stderr)
  const std::atomic<bool>* stop_requested = nullptr;  // set on SIGINT/SIGTERM: stop soon, throw Interrupted (or call check_stop())
  bool show_progress = true;

  // Instantiates the plugin named by the Plugin-typed parameter `param` (e.g. "cam").
  template <class Interface>
  std::shared_ptr<Interface> make(const std::string& param) const;
};

struct Task {
  static constexpr const char* kKind = "task";
  virtual ~Task() = default;
  // Throws on failure (the run is `failed` with the message); returns Diverged for a NaN/inf loss.
  virtual RunOutcome run(RunContext& context) = 0;
};

}  // namespace tedloc
