#pragma once
// Helpers shared by the test programs: temporary folders, running the real `tedloc` executable.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

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

// The shared/ folder with the goldens ($TEDLOC_SHARED overrides the compiled-in path).
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("TEDLOC_SHARED")) return env;
  return TEDLOC_SHARED_DIR;
}

inline std::string tedloc_exe() { return std::string(TEDLOC_BUILD_DIR) + "/tedloc"; }

}  // namespace tedloc::testing
