#pragma once
// Paths shared by the text tests: the golden folder (read in place) and scratch files.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <zlib.h>

#include "test_support.hpp"

namespace tedloc::text::testing {

inline std::filesystem::path clip_golden_dir() { return ::tedloc::testing::shared_dir() / "golden" / "clip"; }

inline std::filesystem::path clip_vocab() { return clip_golden_dir() / "bpe_simple_vocab_16e6.txt.gz"; }

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A scratch file under the build tree, removed when the object goes.
struct ScratchFile {
  std::filesystem::path path;
  explicit ScratchFile(const std::string& name)
      : path(std::filesystem::path(TEDLOC_BUILD_DIR) / "test_scratch" / "text" / name) {
    std::filesystem::create_directories(path.parent_path());
  }
  ~ScratchFile() { std::filesystem::remove(path); }
  void write(const std::string& bytes) const { std::ofstream(path, std::ios::binary) << bytes; }
  void write_gzip(const std::string& text) const {
    gzFile file = gzopen(path.c_str(), "wb");
    gzwrite(file, text.data(), static_cast<unsigned>(text.size()));
    gzclose(file);
  }
};

// The decompressed golden merge list.
inline std::string golden_merges_text() {
  gzFile file = gzopen(clip_vocab().c_str(), "rb");
  std::string text;
  char buffer[1 << 16];
  for (int n; (n = gzread(file, buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  gzclose(file);
  return text;
}

}  // namespace tedloc::text::testing
