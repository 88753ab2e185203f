// bench_clip: images/s of CLIP's image tower at ViT-B/16 shapes (width 768, 12 layers, 12 heads, patch 16,
// 224 px, random weights) on CPU, native C++ beside the same model in Debian's python3-torch (the same
// LibTorch underneath), run by this program with the same thread count.
//
// Usage: bench_clip [--threads N] [--iters1 N] [--iters32 N] [--no-python]
// Each figure is the best of its timed iterations (the machine is shared: the minimum is the least
// disturbed measurement); the median is printed beside it. /proc/loadavg is printed before and after.
#include <algorithm>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "bench_support.hpp"
#include "tedloc/clip/clip_model.hpp"

namespace {

using tedloc::bench::loadavg;
using tedloc::bench::report;

std::vector<double> time_cpp(tedloc::clip::VisionTransformer& vit, int64_t batch, int warmup, int iters) {
  c10::InferenceMode inference;
  const auto images = torch::randn({batch, 3, 224, 224});
  return tedloc::bench::time_calls(warmup, iters, [&] { vit->forward(images); });
}

std::vector<double> time_python(int64_t batch, int warmup, int iters, int threads, bool batch_first) {
  const std::string command = fmt::format("{} {}/tests/clip/bench_clip_vit.py --batch {} --iters {} --warmup {} --threads {}{}",
                                          TEDLOC_TORCH_PYTHON, TEDLOC_SOURCE_DIR, batch, iters, warmup, threads,
                                          batch_first ? " --batch-first" : "");
  return tedloc::bench::numbers_after(tedloc::bench::run_command(command), "seconds", static_cast<size_t>(iters));
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int iters1 = 3, iters32 = 1;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
    else if (a == "--iters1" && i + 1 < argc) iters1 = std::stoi(argv[++i]);
    else if (a == "--iters32" && i + 1 < argc) iters32 = std::stoi(argv[++i]);
    else if (a == "--no-python") python = false;
    else {
      std::cerr << "usage: bench_clip [--threads N] [--iters1 N] [--iters32 N] [--no-python]\n";
      return 2;
    }
  }
  at::set_num_threads(threads);  // Debian's LibTorch starts with one intra-op thread
  std::cout << fmt::format("bench_clip: ViT-B/16 image tower, 224 px, CPU, {} threads; load average before: {}\n", threads, loadavg());

  torch::manual_seed(0);
  tedloc::clip::VisionTransformer vit(tedloc::clip::VisionOptions{});  // defaults = ViT-B/16
  vit->eval();
  for (const int64_t batch : {1, 32}) {
    const int iters = batch == 1 ? iters1 : iters32, warmup = batch == 1 ? 1 : 0;
    report("C++ tedloc::clip::VisionTransformer", batch, time_cpp(vit, batch, warmup, iters));
    if (!python) continue;
    report("python3-torch, OpenAI layout (seq-first MHA)", batch, time_python(batch, warmup, iters, threads, false));
    report("python3-torch, batch_first MHA (fused path)", batch, time_python(batch, warmup, iters, threads, true));
  }
  std::cout << "load average after: " << loadavg() << "\n";
  return 0;
}
