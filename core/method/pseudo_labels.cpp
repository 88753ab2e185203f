#include "tedloc/method/pseudo_labels.hpp"

#include <torch/torch.h>

#include "shape.hpp"
#include "tedloc/error.hpp"

namespace tedloc::method {
namespace {

void check_map(const torch::Tensor& cam, const char* what) {
  if (!cam.defined() || cam.dim() != 2 || cam.numel() == 0)
    throw InputError(fmt::format("{}: the CAM must be a non-empty H x W map, got shape {}", what,
                                 shape_of(cam)));
  if (!torch::isfinite(cam).all().item<bool>()) throw InputError(fmt::format("{}: the CAM has NaN or inf", what));
}

// `count` samples from `pool` (1-D): a random subset if the pool is large enough, else with replacement.
torch::Tensor draw(const torch::Tensor& pool, int64_t count, torch::Generator& gen) {
  const int64_t n = pool.size(0);
  const auto pick = n >= count ? torch::randperm(n, gen, torch::kLong).slice(0, 0, count)
                               : torch::randint(n, {count}, gen, torch::kLong);
  return pool.index_select(0, pick);
}

}  // namespace

double otsu_threshold(const torch::Tensor& cam) {
  check_map(cam, "otsu_threshold");
  constexpr int64_t kBins = 256;
  const auto v = cam.detach().to(torch::kCPU, torch::kDouble).flatten();
  const double lo = v.min().item<double>(), hi = v.max().item<double>();
  if (lo == hi) return lo;
  const auto hist = torch::histc(v, kBins, lo, hi);  // equal-width bins, the last one closed like numpy's
  const double width = (hi - lo) / kBins;
  const auto centers = lo + width * (torch::arange(kBins, torch::kDouble) + 0.5);
  // Class weights and means for every split "bins [0, i] | bins [i+1, 255]".
  const auto w0 = hist.cumsum(0);
  const auto w1 = hist.flip(0).cumsum(0).flip(0);
  const auto mu0 = (hist * centers).cumsum(0) / w0;
  const auto mu1 = (hist * centers).flip(0).cumsum(0).flip(0) / w1;
  const auto between = w0.slice(0, 0, kBins - 1) * w1.slice(0, 1) *
                       (mu0.slice(0, 0, kBins - 1) - mu1.slice(0, 1)).pow(2);
  // No 0/0: the first bin holds the minimum and the last the maximum, so w0 > 0 and w1 > 0 everywhere.
  const auto idx = between.argmax().item<int64_t>();  // the first maximum, like numpy's argmax
  return centers[idx].item<double>();
}

torch::Tensor cam_to_grid(const torch::Tensor& cam, int64_t grid_h, int64_t grid_w) {
  check_map(cam, "cam_to_grid");
  if (grid_h < 1 || grid_w < 1) throw InputError(fmt::format("cam_to_grid: bad grid {}x{}", grid_h, grid_w));
  const auto x = cam.detach().to(torch::kFloat).unsqueeze(0).unsqueeze(0);
  namespace F = torch::nn::functional;
  const bool shrink = grid_h <= cam.size(0) && grid_w <= cam.size(1);
  const auto y = shrink ? F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions({grid_h, grid_w}))
                        : F::interpolate(x, F::InterpolateFuncOptions()
                                                .size(std::vector<int64_t>{grid_h, grid_w})
                                                .mode(torch::kBilinear)
                                                .align_corners(false));
  return y.squeeze(0).squeeze(0).contiguous();
}

Candidates candidate_cells(const torch::Tensor& cam, const CandidateOptions& options) {
  if (options.n_pos < 1 || options.n_neg < 1)
    throw InputError(fmt::format("pseudo-labels: n+ ({}) and n- ({}) must be >= 1", options.n_pos, options.n_neg));
  const auto grid_map = cam_to_grid(cam, options.grid_h, options.grid_w).to(torch::kCPU);
  const auto grid = grid_map.flatten();
  const int64_t N = grid.numel();
  Candidates c;
  c.otsu = otsu_threshold(grid_map);
  // Stable sorts: equal values keep the cell order, so ties are broken the same way on every run.
  const auto by_high = std::get<1>(torch::sort(grid, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  c.fg = by_high.slice(0, 0, std::min(options.n_pos, N)).clone();
  auto excluded = grid > c.otsu;
  excluded.index_fill_(0, c.fg, true);
  const auto by_low = std::get<1>(torch::sort(grid, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  const auto allowed = by_low.masked_select(excluded.index_select(0, by_low).logical_not());
  c.bg = allowed.slice(0, 0, std::min(options.n_neg, allowed.size(0))).clone();
  if (c.bg.numel() == 0)
    throw InputError(fmt::format("pseudo-labels: no BG candidate: n+ = {} and the Otsu FG cover the {}x{} grid",
                                 options.n_pos, options.grid_h, options.grid_w));
  return c;
}

CellSample sample_cells(const std::vector<Candidates>& batch, int64_t s, torch::Generator& generator) {
  if (s < 1) throw InputError(fmt::format("pseudo-labels: s = {} cells per image, must be >= 1", s));
  if (batch.empty()) throw InputError("pseudo-labels: empty batch");
  std::vector<torch::Tensor> fg, bg;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].fg.defined() || batch[i].fg.numel() == 0 || !batch[i].bg.defined() || batch[i].bg.numel() == 0)
      throw InputError(fmt::format("pseudo-labels: image {} of the batch has no FG or no BG candidate", i));
    fg.push_back(draw(batch[i].fg, s, generator));
    bg.push_back(draw(batch[i].bg, s, generator));
  }
  return {torch::stack(fg), torch::stack(bg)};
}

}  // namespace tedloc::method
