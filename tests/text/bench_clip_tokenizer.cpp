// Tokenises CLIP's 80 ImageNet prompt templates x 1000 class names (the zero-shot classifier's
// 80,000 prompts) and prints the time: once with a cold BPE cache, then again warm. Wall time and this
// process's CPU time: the second is the steadier figure on a loaded machine.
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tedloc/text/clip_tokenizer.hpp"
#include "test_support.hpp"

namespace {

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main() {
  if (const std::string missing = tedloc::testing::missing_shared("golden/clip"); !missing.empty()) {
    std::printf("skipped: %s\n", missing.c_str());
    return tedloc::testing::shared_required() ? 1 : tedloc::testing::kSkipExitCode;
  }
  const auto golden = tedloc::testing::shared_dir() / "golden" / "clip";
  const auto templates = read_lines(golden / "imagenet_templates.txt");
  const auto classes = read_lines(golden / "imagenet_classnames.txt");
  if (templates.size() != 80 || classes.size() != 1000) {
    std::fprintf(stderr, "expected 80 templates and 1000 classes under %s\n", golden.c_str());
    return 1;
  }
  std::vector<std::string> prompts;
  for (const std::string& name : classes)
    for (const std::string& t : templates) {
      std::string prompt = t;
      prompt.replace(prompt.find("{}"), 2, name);
      prompts.push_back(prompt);
    }

  auto start = std::chrono::steady_clock::now();
  const tedloc::text::ClipTokenizer tokenizer(golden / "bpe_simple_vocab_16e6.txt.gz");
  std::printf("load vocabulary: %.3f s\n", seconds_since(start));
  for (const char* pass : {"cold cache", "warm cache"}) {
    start = std::chrono::steady_clock::now();
    const std::clock_t cpu_start = std::clock();
    long checksum = 0;
    for (const std::string& prompt : prompts) checksum += tokenizer.tokenize(prompt)[1];
    const double s = seconds_since(start);
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    std::printf("tokenize %zu prompts (%s): %.3f s wall, %.3f s CPU, %.0f prompts/s wall (checksum %ld)\n",
                prompts.size(), pass, s, cpu, prompts.size() / s, checksum);
  }
  return 0;
}
