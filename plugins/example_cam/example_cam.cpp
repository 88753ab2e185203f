// The example plugin: copy this folder to write your own CAM source (see README.md here).
//
// `center_prior` ignores the image and returns a Gaussian centred on it: the classic "centre bias"
// baseline of WSOL. `brightness` returns the normalised mean intensity of the image, a CAM that finds
// bright objects on dark backgrounds. Both are real, cheap baselines to compare learned CAMs against.
#include <tedloc/plugin/cam_source.hpp>
#include <torch/torch.h>

namespace {

struct CenterPrior final : tedloc::CamSource {
  double sigma;
  int64_t grid;
  explicit CenterPrior(const tedloc::Params& p) : sigma(p.get<double>("sigma")), grid(p.get<int64_t>("grid")) {}

  torch::Tensor cams(const tedloc::CamRequest& request) override {
    auto coords = (torch::arange(grid, torch::kFloat) + 0.5) / grid - 0.5;  // cell centres in [-0.5, 0.5]
    auto d2 = coords.view({grid, 1}).pow(2) + coords.view({1, grid}).pow(2);
    auto map = torch::exp(-d2 / (2 * sigma * sigma));
    map = (map - map.min()) / (map.max() - map.min());
    return map.unsqueeze(0).expand({request.images.size(0), grid, grid}).contiguous();
  }
};

struct Brightness final : tedloc::CamSource {
  explicit Brightness(const tedloc::Params&) {}

  torch::Tensor cams(const tedloc::CamRequest& request) override {
    auto map = request.images.mean(1);  // [B, H, W]
    auto flat = map.flatten(1);
    auto lo = std::get<0>(flat.min(1)).view({-1, 1, 1});
    auto hi = std::get<0>(flat.max(1)).view({-1, 1, 1});
    return (map - lo) / (hi - lo).clamp_min(1e-12);
  }
};

}  // namespace

TEDLOC_PLUGINS(registrar) {
  registrar.add<tedloc::CamSource, CenterPrior>(
      {"center_prior", "1.0.0", "a Gaussian centred on the image (centre-bias baseline)",
       {tedloc::ParamDecl{"sigma", tedloc::ParamType::Float, 0.25, "standard deviation, as a fraction of the image side"}.above(0),
        tedloc::ParamDecl{"grid", tedloc::ParamType::Int, 14, "side of the returned map"}.within(1, 4096)}});
  registrar.add<tedloc::CamSource, Brightness>(
      {"brightness", "1.0.0", "min-max normalised mean intensity of the image", {}});
}
