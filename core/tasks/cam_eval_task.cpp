// The tasks compiled into the core. A task is what one grid cell does.
#include <fmt/format.h>
#include <torch/torch.h>

#include "tedloc/host.hpp"
#include "tedloc/tasks.hpp"
#include "tedloc/plugin/cam_source.hpp"

namespace tedloc {
namespace {

// Synthetic localization images: a bright elliptical object with a known box on a noisy background.
struct SyntheticSet {
  torch::Tensor images;  // [N, 3, S, S]
  torch::Tensor labels;  // [N]
  torch::Tensor boxes;   // [N, 4] x0, y0, x1, y1 (x1, y1 one past the last pixel)
};

SyntheticSet synthetic_objects(int64_t n, int64_t size, int64_t seed) {
  torch::Generator gen = at::detail::createCPUGenerator(static_cast<uint64_t>(seed));
  SyntheticSet set;
  set.images = torch::rand({n, 3, size, size}, gen) * 0.5;
  set.labels = torch::zeros({n}, torch::kLong);
  set.boxes = torch::zeros({n, 4}, torch::kLong);
  auto ys = torch::arange(size, torch::kFloat).view({size, 1});
  auto xs = torch::arange(size, torch::kFloat).view({1, size});
  for (int64_t i = 0; i < n; ++i) {
    check_stop();
    auto r = torch::rand({4}, gen);
    const double w = size * (0.2 + 0.4 * r[0].item<double>());
    const double h = size * (0.2 + 0.4 * r[1].item<double>());
    const double cx = w / 2 + (size - w) * r[2].item<double>();
    const double cy = h / 2 + (size - h) * r[3].item<double>();
    auto inside = ((xs - cx) / (w / 2)).pow(2) + ((ys - cy) / (h / 2)).pow(2) <= 1.0;
    set.images[i].masked_fill_(inside.unsqueeze(0).expand({3, size, size}), 1.0);
    auto rows = torch::nonzero(inside.any(1)).flatten();
    auto cols = torch::nonzero(inside.any(0)).flatten();
    set.boxes[i] = torch::stack({cols.min(), rows.min(), cols.max() + 1, rows.max() + 1});
  }
  return set;
}

// Accuracy (IoU >= 0.5) of the box around all pixels above each threshold, maximised over thresholds.
std::pair<double, double> best_box_accuracy(const torch::Tensor& maps, const torch::Tensor& boxes, double step) {
  double best = -1, best_t = 0;
  for (double t = 0; t < 1.0; t += step) {
    check_stop();
    int64_t correct = 0;
    for (int64_t i = 0; i < maps.size(0); ++i) {
      auto on = maps[i] > t;
      auto rows = torch::nonzero(on.any(1)).flatten();
      auto cols = torch::nonzero(on.any(0)).flatten();
      if (rows.numel() == 0) continue;
      const double x0 = cols.min().item<double>(), x1 = cols.max().item<double>() + 1;
      const double y0 = rows.min().item<double>(), y1 = rows.max().item<double>() + 1;
      auto g = boxes[i];
      const double gx0 = g[0].item<double>(), gy0 = g[1].item<double>(), gx1 = g[2].item<double>(),
                   gy1 = g[3].item<double>();
      const double iw = std::max(0.0, std::min(x1, gx1) - std::max(x0, gx0));
      const double ih = std::max(0.0, std::min(y1, gy1) - std::max(y0, gy0));
      const double inter = iw * ih;
      const double uni = (x1 - x0) * (y1 - y0) + (gx1 - gx0) * (gy1 - gy0) - inter;
      if (uni > 0 && inter / uni >= 0.5) ++correct;
    }
    const double acc = 100.0 * correct / maps.size(0);
    if (acc > best) {
      best = acc;
      best_t = t;
    }
  }
  return {best, best_t};
}

// Scores a CAM source on synthetic objects: the engine's smallest real task (no dataset, no training).
struct CamEvalTask final : Task {
  explicit CamEvalTask(const Params&) {}
  RunOutcome run(RunContext& ctx) override {
    const auto n = ctx.params.get<int64_t>("images");
    const auto size = ctx.params.get<int64_t>("size");
    const double step = ctx.params.get<double>("threshold_step");  // declared ranges: validated before the run
    const SyntheticSet set = synthetic_objects(n, size, ctx.seed);
    auto cam = ctx.make<CamSource>("cam");
    torch::NoGradGuard no_grad;
    torch::Tensor maps = cam->cams({set.images, set.labels, {}});
    if (maps.dim() != 3 || maps.size(0) != n) {
      throw InputError(fmt::format("cam source returned maps of shape {}, expected [{}, h, w]",
                                   c10::str(maps.sizes()), n));
    }
    maps = torch::nn::functional::interpolate(
               maps.unsqueeze(1).to(torch::kFloat),
               torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{size, size})
                   .mode(torch::kBilinear).align_corners(false))
               .squeeze(1);
    const auto [accuracy, threshold] = best_box_accuracy(maps, set.boxes, step);
    ctx.log_metric("synthetic", "box_accuracy_iou50", accuracy, -1);
    ctx.log_metric("synthetic", "best_threshold", threshold, -1);
    ctx.log(fmt::format("box accuracy {:.2f}% at threshold {:.3f}", accuracy, threshold));
    return {};
  }
};

}  // namespace

void register_cam_eval_task(PluginRegistrar& registrar) {
  registrar.add<Task, CamEvalTask>(
      {"cam_eval", "1.0.0", "scores a cam_source on synthetic objects (box accuracy at IoU 0.5 over thresholds)",
       {ParamDecl{"images", ParamType::Int, 64, "number of synthetic images"}.within(1, 100000),
        ParamDecl{"size", ParamType::Int, 64, "image side in pixels"}.within(4, 4096),
        ParamDecl{"threshold_step", ParamType::Float, 0.01, "spacing of the map thresholds"}.within(1e-4, 1),
        {"cam", ParamType::Plugin, nullptr, "the CAM source to score", true, {}, "cam_source"}}});
}

}  // namespace tedloc
