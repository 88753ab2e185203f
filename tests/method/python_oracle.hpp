#pragma once
// Debian's python3 (numpy, scikit-image) as an independent oracle: tests that need it skip when it is absent.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

namespace tedloc::test {

constexpr const char* kPython = "/usr/bin/python3";

// Runs a Python script; returns its exit status (non-zero also when python3 is missing).
inline int run_python(const std::string& script) {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("tedloc_test_method_{}.py", ::getpid());
  std::ofstream(path) << script;
  const int rc = std::system(fmt::format("{} {} 2>&1", kPython, path.string()).c_str());
  std::filesystem::remove(path);
  return rc;
}

inline bool python_has(const std::string& module) { return run_python("import " + module + "\n") == 0; }

}  // namespace tedloc::test
