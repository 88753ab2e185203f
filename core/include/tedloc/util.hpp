#pragma once
// Small helpers shared by the engine and the commands.
#include <chrono>
#include <cstdint>
#include <string>

namespace tedloc {

// Hex SHA-256 of `data` (FIPS 180-4); used for the canonical config hash.
std::string sha256_hex(const std::string& data);

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

// "1h02m", "3m05s", "12.3s".
std::string format_duration(double seconds);

}  // namespace tedloc
