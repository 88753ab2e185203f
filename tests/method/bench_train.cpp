// bench_train: images/s of one TeD-Loc training step on CPU as core/method/tasks.cpp's training loop runs it,
// with and without the token cache, beside the same step in Debian's python3-torch (the same LibTorch
// underneath; tests/method/bench_train.py), run by this program with the same thread count and batch.
//
// The step: encoder tokens -> D -> g -> the kd_pcl_icl losses (its defaults: lambdas 1, mean over cells) ->
// the loss values read out (as the loop logs them) -> zero_grad, backward, SGD step (lr 0.01, momentum 0.9,
// weight decay 1e-4). Encoder: a ViT-Tiny-shaped native CLIP image tower (width 192, 6 layers, 3 heads,
// patch 16, 224 px, projection to 512; random weights, frozen, eval mode) whose tokens are patch_tokens()
// (after ln_post and proj), as make_encoder feeds them to D. D: width 256, 2 stages (14 -> 56 grid), group
// norm; g linear; K = 200 random orthonormal anchors of width 512.
//
// Usage: bench_train [--threads N] [--batch N]... [--warmup N] [--iters N] [--no-python]
// Each figure is the best of its timed steps (the machine is shared: the minimum is the least disturbed
// measurement); the median is printed beside it. /proc/loadavg is printed before and after.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "bench_support.hpp"
#include "tedloc/clip/clip_model.hpp"
#include "tedloc/data/transforms.hpp"
#include "tedloc/method/losses.hpp"
#include "tedloc/method/modules.hpp"
#include "tedloc/method/pseudo_labels.hpp"

namespace {

namespace m = tedloc::method;
using tedloc::bench::report;
using tedloc::bench::time_calls;

constexpr int64_t kImage = 224, kGrid = 14, kTextWidth = 512, kClasses = 200, kCellsPerImage = 10;
constexpr const char* kUsage =
    "usage: bench_train [--threads N] [--batch N]... [--warmup N] [--iters N] [--no-python]\n";

int64_t count(const std::vector<torch::Tensor>& parameters) {
  int64_t n = 0;
  for (const auto& t : parameters) n += t.numel();
  return n;
}

// What tasks.cpp's Model holds: D and g, trained by one SGD over both.
struct Model {
  m::Decoder decoder{nullptr};
  m::PatchHead head{nullptr};
  std::vector<torch::Tensor> parameters() const {
    auto p = decoder->parameters();
    for (auto& t : head->parameters()) p.push_back(t);
    return p;
  }
};

// A batch's fixed inputs: what the loader and the pseudo-labels hand to the step.
struct Batch {
  torch::Tensor images, labels;
  m::CellSample cells;
  std::vector<std::string> keys;  // the token cache's keys, built as tasks.cpp's tokens_of builds them
};

// Random CAMs -> candidate_cells -> sample_cells, as tasks.cpp draws a step's cells. Done once per batch size
// outside the timed steps (both C++ figures train on the same cells); its time is printed on its own.
Batch make_batch(int64_t size) {
  Batch b{torch::randn({size, 3, kImage, kImage}), torch::randint(kClasses, {size}, torch::kLong), {}, {}};
  m::CandidateOptions copt;  // 56 x 56 grid, n+ = n- = 100: the task's defaults
  torch::Generator generator = at::detail::createCPUGenerator(17);
  const auto start = std::chrono::steady_clock::now();
  std::vector<m::Candidates> candidates;
  for (int64_t i = 0; i < size; ++i) candidates.push_back(m::candidate_cells(torch::rand({kImage, kImage}), copt));
  b.cells = m::sample_cells(candidates, kCellsPerImage, generator);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << fmt::format("pseudo-label cells of batch {}: candidate_cells + sample_cells {:.1f} ms, drawn once "
                           "outside the timed steps; both C++ figures train on them\n", size, ms);
  const tedloc::data::AugmentationKey key{true, 256, 224, 16, 16, false};
  for (int64_t i = 0; i < size; ++i) b.keys.push_back(std::to_string(i) + "|" + key.str());
  return b;
}

// tasks.cpp's loop body after tokens_of.
void train_step(Model& model, torch::optim::SGD& optimizer, const torch::Tensor& anchors, const torch::Tensor& tokens,
                const Batch& b) {
  const torch::Tensor z = model.decoder->forward(tokens, kGrid, kGrid);
  const torch::Tensor g_logits = model.head->forward(z);
  const m::LossValues terms =
      m::total_loss({z, g_logits, anchors, b.labels, b.cells}, m::LossWeights{}, m::Reduction::kMean);
  double logged = terms.total.item<double>();
  for (const auto& term : {terms.kd, terms.pcl, terms.icl}) logged += term.item<double>();
  if (!std::isfinite(logged)) throw std::runtime_error("the loss is not finite");
  optimizer.zero_grad();
  terms.total.backward();
  optimizer.step();
}

// tasks.cpp's tokens_of when every image of the batch is cached: one map lookup per image, stacked.
torch::Tensor cached_tokens(const std::map<std::string, torch::Tensor>& cache, const std::vector<std::string>& keys) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> rows;
  for (const auto& key : keys) rows.push_back(cache.at(key));
  return torch::stack(rows);
}

struct PythonRun {
  std::vector<double> seconds;
  int64_t encoder_parameters, trainable_parameters;
};

PythonRun run_python(const std::string& mode, int64_t batch, int warmup, int iters, int threads) {
  const std::string command =
      fmt::format("{} {}/tests/method/bench_train.py --mode {} --batch {} --warmup {} --iters {} --threads {}",
                  TEDLOC_TORCH_PYTHON, TEDLOC_SOURCE_DIR, mode, batch, warmup, iters, threads);
  const std::string output = tedloc::bench::run_command(command);
  const auto params = tedloc::bench::numbers_after(output, "params", 2);
  return {tedloc::bench::numbers_after(output, "seconds", static_cast<size_t>(iters)), static_cast<int64_t>(params[0]),
          static_cast<int64_t>(params[1])};
}

// An integer argument >= min, or nothing (a usage error).
std::optional<int> integer(const std::string& text, int min) {
  int v = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (error != std::errc() || end != text.data() + text.size() || v < min) return std::nullopt;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int warmup = 1, iters = 3;
  std::vector<int64_t> batches;
  bool python = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    std::optional<int> value;
    if (a == "--no-python") {
      python = false;
      continue;
    }
    if (has_value && (a == "--threads" || a == "--batch" || a == "--iters")) value = integer(argv[++i], 1);
    else if (has_value && a == "--warmup") value = integer(argv[++i], 0);
    if (!value) {
      std::cerr << kUsage;
      return 2;
    }
    if (a == "--threads") threads = *value;
    else if (a == "--batch") batches.push_back(*value);
    else if (a == "--iters") iters = *value;
    else warmup = *value;
  }
  if (batches.empty()) batches = {32};
  try {
    at::set_num_threads(threads);  // Debian's LibTorch starts with one intra-op thread
    std::cout << fmt::format("bench_train: one TeD-Loc training step, ViT-Tiny-shaped CLIP encoder, 224 px, CPU, "
                             "{} threads, {} warm-up + {} timed steps; load average before: {}\n",
                             threads, warmup, iters, tedloc::bench::loadavg());
    torch::manual_seed(0);
    tedloc::clip::VisionTransformer vit(
        tedloc::clip::VisionOptions().width(192).layers(6).heads(3).patch_size(16).grid(kGrid).output_dim(kTextWidth));
    vit->eval();
    for (auto& t : vit->parameters()) t.requires_grad_(false);  // frozen, as make_encoder leaves it

    // D and g with the task's defaults (tasks.cpp: groups = min(8, width)).
    m::DecoderOptions dopt(vit->options.output_dim(), kTextWidth);
    dopt.width(256).upsample_stages(2).norm(m::DecoderNorm::kGroup).groups(8);
    Model model{m::Decoder(dopt), m::PatchHead(m::PatchHeadOptions(kTextWidth))};
    model.decoder->train();
    model.head->train();
    torch::optim::SGD optimizer(model.parameters(), torch::optim::SGDOptions(0.01).momentum(0.9).weight_decay(1e-4));
    const torch::Tensor anchors = std::get<0>(torch::linalg_qr(torch::randn({kTextWidth, kClasses}))).t().contiguous();
    const int64_t encoder_parameters = count(vit->parameters()), trainable_parameters = count(model.parameters());
    std::cout << fmt::format("C++ parameters: encoder {}, D + g {}\n", encoder_parameters, trainable_parameters);
    std::cout << "timed per step: the tokens (encoder under NoGradGuard, or the cache's lookup + stack), D, g, the "
                 "kd_pcl_icl losses, their values read out, zero_grad, backward, SGD step; images, labels and cells "
                 "are fixed inputs\n";
    if (python)
      std::cout << "python3-torch draws its [B, 10] FG/BG cells at random (the step's cost does not depend on which)\n";

    auto encode = [&](const torch::Tensor& images) {
      torch::NoGradGuard no_grad;  // tokens_of's guard: the fused attention kernel, no autograd graph
      return vit->patch_tokens(images);
    };
    // Checks that the python run built the same models (printing its counts the first time), then reports its figure.
    bool counts_printed = false;
    auto report_python = [&](const std::string& what, const std::string& mode, int64_t batch) {
      const PythonRun run = run_python(mode, batch, warmup, iters, threads);
      const std::string counts = fmt::format("python3-torch parameters: encoder {}, D + g {}", run.encoder_parameters,
                                             run.trainable_parameters);
      if (run.encoder_parameters != encoder_parameters || run.trainable_parameters != trainable_parameters)
        throw std::runtime_error(counts + ": the models differ from C++'s");
      if (!counts_printed) std::cout << counts << " (as C++)\n";
      counts_printed = true;
      report(what, batch, run.seconds);
    };
    for (const int64_t size : batches) {
      const Batch b = make_batch(size);
      std::map<std::string, torch::Tensor> cache;
      const torch::Tensor fresh = encode(b.images);
      for (int64_t i = 0; i < size; ++i) cache[b.keys[static_cast<size_t>(i)]] = fresh[i];

      report("C++ encoder forward alone", size, time_calls(warmup, iters, [&] { encode(b.images); }));
      if (python) report_python("python3-torch encoder forward alone", "encoder", size);
      report("C++ no cache: encoder + D/g step", size,
             time_calls(warmup, iters, [&] { train_step(model, optimizer, anchors, encode(b.images), b); }));
      if (python) report_python("python3-torch no cache: encoder + D/g step", "nocache", size);
      report("C++ token cache hit: D/g step", size, time_calls(warmup, iters, [&] {
               train_step(model, optimizer, anchors, cached_tokens(cache, b.keys), b);
             }));
      if (python) report_python("python3-torch token cache hit: D/g step", "cache", size);
    }
    std::cout << "load average after: " << tedloc::bench::loadavg() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_train: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
