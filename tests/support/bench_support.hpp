#pragma once
// What the benchmark programs share: the machine's load, a timing loop, one figure's report line, and
// reading the timings a companion python script prints.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace tedloc::bench {

// The 1, 5 and 15 minute load averages: how busy the (shared) machine was around a measurement.
inline std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Seconds of each of `iters` calls of fn, after `warmup` untimed ones.
template <class Fn>
std::vector<double> time_calls(int warmup, int iters, Fn&& fn) {
  std::vector<double> seconds;
  for (int i = 0; i < warmup + iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    if (i >= warmup) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
}

// One figure: images/s of the best call (the least disturbed one on a shared machine), the median beside it.
inline void report(const std::string& what, int64_t batch, std::vector<double> seconds) {
  std::sort(seconds.begin(), seconds.end());
  const double best = seconds.front(), median = seconds[seconds.size() / 2];
  std::cout << fmt::format("{:<44} batch {:>2}  {:8.3f} images/s (best of {}; median {:.3f})  {:.3f} s/iter\n", what,
                           batch, batch / best, seconds.size(), batch / median, best)
            << std::flush;
}

// The standard output of a shell command; throws, with that output, when the command fails.
inline std::string run_command(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  if (pclose(pipe) != 0) throw std::runtime_error("failed: " + command + "\n" + output);
  return output;
}

// The `count` numbers of the output line `word n_1 ... n_count`; throws when there is no such line or it holds
// another number of values.
inline std::vector<double> numbers_after(const std::string& output, const std::string& word, std::size_t count) {
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::string first;
    if (!(in >> first) || first != word) continue;
    std::vector<double> numbers;
    for (double v; in >> v;) numbers.push_back(v);
    if (numbers.size() == count && in.eof()) return numbers;
    break;
  }
  throw std::runtime_error(fmt::format("unexpected output (no line '{}' with {} numbers):\n{}", word, count, output));
}

}  // namespace tedloc::bench
