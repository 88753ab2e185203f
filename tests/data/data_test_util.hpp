#pragma once
// Helpers shared by the data tests: a fresh temporary folder per test, file bytes, test images.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tedloc/data/image.hpp"

namespace tedloc::data::testing {

namespace fs = std::filesystem;

// A temporary folder named after the running test, removed at the end.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("tedloc_data_" + std::to_string(getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A smooth, asymmetric RGB test pattern (gradients plus a bright square), distinct per `variant`.
inline Image pattern(int width, int height, int variant = 0) {
  Image img(width, height, 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      img.at(x, y, 0) = static_cast<std::uint8_t>((x * 255) / std::max(1, width - 1));
      img.at(x, y, 1) = static_cast<std::uint8_t>((y * 255) / std::max(1, height - 1));
      img.at(x, y, 2) = static_cast<std::uint8_t>((variant * 37 + x + y) % 256);
      if (x > width / 5 && x < width / 2 && y > height / 4 && y < height / 2)
        for (int c = 0; c < 3; ++c) img.at(x, y, c) = 240;
    }
  return img;
}

}  // namespace tedloc::data::testing
