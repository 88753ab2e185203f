#pragma once
// Helpers shared by the test programs: temporary folders, running the real `tedloc` executable.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern char** environ;

namespace tedloc::testing {

// A fresh folder under the system's temp dir, removed when the object dies.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("tedloc-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline void write_file(const std::string& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

inline std::string read_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The shared/ folder with the goldens ($TEDLOC_SHARED overrides the compiled-in path, ../shared).
inline std::filesystem::path shared_dir() {
  const char* env = std::getenv("TEDLOC_SHARED");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(TEDLOC_SHARED_DIR);
}

// True when a missing golden must fail rather than skip: CI sets TEDLOC_REQUIRE_SHARED=1 so that it runs
// every golden suite; a user's fresh clone has no ../shared and skips them.
inline bool shared_required() {
  const char* env = std::getenv("TEDLOC_REQUIRE_SHARED");
  return env && *env && std::string(env) != "0";
}

// Empty when shared_dir()/relative exists, else the one line a skipped (or failed) golden test prints.
inline std::string missing_shared(const std::string& relative) {
  const auto path = shared_dir() / relative;
  if (std::filesystem::exists(path)) return {};
  return path.string() + " is absent: this golden suite needs the shared/ folder (set TEDLOC_SHARED=DIR; "
                         "TEDLOC_REQUIRE_SHARED=1 turns this skip into a failure)";
}

}  // namespace tedloc::testing

// At the top of a test body or SetUp(): skips the test when shared_dir()/RELATIVE is missing, or fails it
// when TEDLOC_REQUIRE_SHARED is set.
#define TEDLOC_NEED_SHARED(relative)                                              \
  do {                                                                            \
    const std::string tedloc_missing_ = ::tedloc::testing::missing_shared(relative); \
    if (!tedloc_missing_.empty()) {                                               \
      if (::tedloc::testing::shared_required()) FAIL() << tedloc_missing_;        \
      GTEST_SKIP() << tedloc_missing_;                                            \
    }                                                                             \
  } while (0)

namespace tedloc::testing {

// The exit code of a benchmark program that skipped (ctest's SKIP_RETURN_CODE).
constexpr int kSkipExitCode = 77;

inline std::string tedloc_exe() { return std::string(TEDLOC_BUILD_DIR) + "/tedloc"; }

// Starts `tedloc ARGS...` as a child process (stderr to `stderr_file`, stdout discarded with `discard_stdout`)
// and returns its pid.
inline pid_t start_tedloc(const std::vector<std::string>& args, bool discard_stdout = false,
                          const std::string& stderr_file = "/dev/null") {
  std::vector<std::string> all = {tedloc_exe()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (discard_stdout) posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Waits for a child: its exit code, or 128 + the signal that killed it; `usage` (if given) gets its resource
// use (CPU time, peak RSS).
inline int wait_exit(pid_t pid, rusage* usage = nullptr) {
  int status = 0;
  rusage ignored{};
  wait4(pid, &status, 0, usage ? usage : &ignored);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace tedloc::testing
