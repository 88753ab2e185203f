// bench_infer: inference speed on one device, random weights.
//   - CLIP's image tower at ViT-B/16 (224 px, 14x14 grid) and ViT-L/14 (224 px, 16x16 grid) shapes:
//     batch-1 latency and large-batch images/s;
//   - TeD-Loc end to end at batch 1: encoder tokens, decoder D (width 256, 2 stages), head g, the
//     localization map (upsampled to 224 and min-max normalised) and the class scores <h, t_k> (K = 200).
// Each at fp32 and bf16 (autocast, as a run's "precision": "bf16" does).
// Latency protocol (the paper's): `--warmup` untimed steps, then `--steps` timed steps, each one synchronised
// with the device; mean, median and p90 in ms. Defaults: the paper's 20 + 1000 on CUDA, 2 + 5 on the CPU.
//
// Usage: bench_infer [--device cpu|cuda|auto] [--models b16,l14] [--precisions fp32,bf16] [--warmup N]
//                    [--steps N] [--batch N] [--threads N]
#include <algorithm>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include "bench_support.hpp"
#include "tedloc/clip/clip_model.hpp"
#include "tedloc/device.hpp"
#include "tedloc/method/inference.hpp"

namespace {

using tedloc::clip::VisionOptions;
using tedloc::clip::VisionTransformer;

struct Shape {
  std::string name;
  VisionOptions options;
};

Shape shape_of(const std::string& name) {
  if (name == "b16") return {"ViT-B/16", VisionOptions().width(768).layers(12).heads(12).patch_size(16).grid(14).output_dim(512)};
  if (name == "l14") return {"ViT-L/14", VisionOptions().width(1024).layers(24).heads(16).patch_size(14).grid(16).output_dim(768)};
  throw std::invalid_argument("unknown model '" + name + "' (b16 or l14)");
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

void sync(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Seconds of each timed call of `step`, sorted; each call ends with the device synchronised, so that it is timed
// whole (the warm-ups synchronise too).
template <class Step>
std::vector<double> time_steps(const c10::Device& device, int warmup, int steps, Step step) {
  std::vector<double> seconds = tedloc::bench::time_calls(warmup, steps, [&] {
    step();
    sync(device);
  });
  std::sort(seconds.begin(), seconds.end());
  return seconds;
}

void print_latency(const std::string& what, const std::vector<double>& s) {
  double mean = 0;
  for (double v : s) mean += v;
  mean /= static_cast<double>(s.size());
  std::cout << fmt::format("{:<48} batch   1  latency mean {:8.3f} ms  median {:8.3f}  p90 {:8.3f}  ({} steps)\n", what,
                           1e3 * mean, 1e3 * s[s.size() / 2], 1e3 * s[s.size() * 9 / 10], s.size())
            << std::flush;
}

void print_throughput(const std::string& what, int64_t batch, const std::vector<double>& s) {
  std::cout << fmt::format("{:<48} batch {:>3}  {:10.1f} images/s (median of {}; best {:.1f})\n", what, batch,
                           batch / s[s.size() / 2], s.size(), batch / s.front())
            << std::flush;
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_name = "auto", models = "b16,l14", precisions = "fp32,bf16";
  int warmup = -1, steps = -1, threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int64_t batch = -1;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--device") device_name = value();
      else if (a == "--models") models = value();
      else if (a == "--precisions") precisions = value();
      else if (a == "--warmup") warmup = std::stoi(value());
      else if (a == "--steps") steps = std::stoi(value());
      else if (a == "--batch") batch = std::stoll(value());
      else if (a == "--threads") threads = std::stoi(value());
      else throw std::invalid_argument("unknown option " + a);
    }
    for (const auto& m : split_list(models)) shape_of(m);
    for (const auto& p : split_list(precisions))
      if (p != "fp32" && p != "bf16") throw std::invalid_argument("unknown precision '" + p + "' (fp32 or bf16)");
  } catch (const std::exception& e) {
    std::cerr << "bench_infer: " << e.what() << "\nusage: bench_infer [--device cpu|cuda|auto] [--models b16,l14] "
              << "[--precisions fp32,bf16] [--warmup N] [--steps N] [--batch N] [--threads N]\n";
    return 2;
  }
  const c10::Device device = tedloc::resolve_device(device_name);
  const bool cuda = device.is_cuda();
  if (warmup < 0) warmup = cuda ? 20 : 2;
  if (steps < 0) steps = cuda ? 1000 : 5;
  if (batch < 0) batch = cuda ? 256 : 8;
  at::set_num_threads(threads);  // Debian's LibTorch starts with one intra-op thread
  std::cout << fmt::format("bench_infer: device {}, {} threads, torch {}; latency: {} warm-ups + {} timed steps; "
                           "throughput: batch {}; load average before: {}\n",
                           device.str(), threads, TORCH_VERSION, warmup, steps, batch, tedloc::bench::loadavg());

  c10::InferenceMode inference;
  torch::manual_seed(0);
  for (const auto& model : split_list(models)) {
    const Shape shape = shape_of(model);
    VisionTransformer vit(shape.options);
    vit->eval();
    vit->to(device);
    const int64_t side = shape.options.patch_size() * shape.options.grid();
    // TeD-Loc's trainable part on this encoder: tokens [1, grid^2, output_dim] -> D -> g; K = 200 anchors.
    tedloc::method::Decoder decoder(tedloc::method::DecoderOptions(shape.options.output_dim(), shape.options.output_dim()));
    tedloc::method::PatchHead head(tedloc::method::PatchHeadOptions(shape.options.output_dim()));
    decoder->eval();
    head->eval();
    decoder->to(device);
    head->to(device);
    const torch::Tensor anchors = torch::randn({200, shape.options.output_dim()}, device);
    const torch::Tensor one = torch::randn({1, 3, side, side}, device);
    for (const auto& precision : split_list(precisions)) {
      const tedloc::PrecisionScope scope(device, precision);
      const std::string tag = fmt::format("{} {}", shape.name, precision);
      print_latency(tag + " image tower", time_steps(device, warmup, steps, [&] { vit->forward(one); }));
      print_latency(tag + " TeD-Loc (encoder+D+g+map+scores)", time_steps(device, warmup, steps, [&] {
                      const auto out = tedloc::method::tedloc_forward(decoder, head, vit->patch_tokens(one),
                                                                      shape.options.grid(), shape.options.grid(), anchors);
                      tedloc::method::localization_map(out.g_logits, side, side);
                    }));
      const torch::Tensor many = torch::randn({batch, 3, side, side}, device);
      print_throughput(tag + " image tower", batch,
                       time_steps(device, std::min(warmup, 3), std::max(3, steps / 100), [&] { vit->forward(many); }));
    }
  }
  std::cout << "load average after: " << tedloc::bench::loadavg() << "\n";
  return 0;
}
