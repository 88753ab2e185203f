#pragma once
// Stop requests. SIGINT and SIGTERM set a process-wide flag that long loops poll (check_stop(): the data
// loader per batch, the training and evaluation loops, the data and mini-CLIP builders), so the work stops
// within one step and a run is recorded as interrupted. The first signal says so on stderr; a second one
// aborts at once, after the abort hook (the grid engine's: record the running run as interrupted).
#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>

namespace tedloc {

// Thrown where a stop request was seen; the grid records the run as interrupted, a command exits 130.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Installs the SIGINT/SIGTERM handlers and clears earlier requests. `finishing` completes the first signal's
// message, "tedloc: stopping after <finishing> (again to abort)".
void install_stop_handlers(const std::string& finishing = "the current step");
// Puts the default handlers back (a second signal then kills the process as usual).
void restore_default_signals();

bool stop_requested();
// Throws Interrupted when a stop was requested.
inline void check_stop() {
  if (stop_requested()) throw Interrupted();
}
// The flag itself, for plugins that poll RunContext::stop_requested.
const std::atomic<bool>& stop_flag();

// While alive, `hook` runs (on a watcher thread, not in the signal handler) when a second signal aborts the
// process; it must only use what it captured by value.
class AbortHook {
 public:
  explicit AbortHook(std::function<void()> hook);
  ~AbortHook();
  AbortHook(const AbortHook&) = delete;
  AbortHook& operator=(const AbortHook&) = delete;
};

}  // namespace tedloc
