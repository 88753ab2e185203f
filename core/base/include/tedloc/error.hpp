#pragma once
// The error types every part of the workbench throws, and the exit codes the CLI maps them to.
#include <stdexcept>
#include <string>

namespace tedloc {

// Exit codes of every `tedloc` command.
enum ExitCode : int {
  kExitOk = 0,
  kExitRunFailed = 1,    // the command ran, but some run failed or diverged
  kExitUsage = 2,        // bad command line
  kExitBadInput = 3,     // a spec, data file, weight file or plugin was rejected
  kExitInternal = 4,     // a bug or a broken installation (InternalError): not the user's input
  kExitInterrupted = 130 // SIGINT/SIGTERM
};

// Bad input from the user: a file, a line, a JSON path. `what()` is one line that names the place.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A bad command line (unknown flag, missing argument).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Not the user's fault: a broken invariant, a missing part of the installation, a failing SQLite call.
struct InternalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace tedloc
