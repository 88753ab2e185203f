#pragma once
// Small helpers shared by the engine and the commands.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tedloc {

// SHA-256 (FIPS 180-4), fed in pieces.
class Sha256 {
 public:
  void update(const void* data, std::size_t size);
  std::string hex();  // the digest of everything fed; call once

 private:
  void block(const unsigned char* p);
  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  unsigned char buffer_[64] = {};
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;  // bytes fed
};

// Hex SHA-256 of `data`; used for the canonical config hash.
std::string sha256_hex(const std::string& data);

// Hex SHA-256 of a file's content, read in 1 MiB pieces. Throws InputError if it cannot be read.
std::string file_sha256_hex(const std::string& path);

// A progress bar with rate and ETA on stderr. On a terminal it redraws one line; otherwise it prints a
// line at most every `quiet_interval_s` seconds (so CI logs stay short) and at the end.
class Progress {
 public:
  Progress(std::string label, std::int64_t total, bool enabled = true, double quiet_interval_s = 10.0);
  ~Progress();
  void update(std::int64_t done, const std::string& extra = "");
  void finish(const std::string& extra = "");

 private:
  void draw(bool final_line);
  std::string label_, extra_;
  std::int64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  double quiet_interval_s_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Levenshtein distance, for did-you-mean hints.
std::size_t edit_distance(const std::string& a, const std::string& b);
// " (did you mean 'x'?)" when a known name is close to `name`, else " (known: a, b, c)".
std::string suggest(const std::string& name, const std::vector<std::string>& known);

// "1h02m", "3m05s", "12.3s".
std::string format_duration(double seconds);

}  // namespace tedloc
