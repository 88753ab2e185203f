#include "tedloc/method/inference.hpp"

#include <torch/torch.h>

#include "shape.hpp"
#include "tedloc/error.hpp"
#include "tedloc/method/losses.hpp"

namespace tedloc::method {

TedLocOutput tedloc_forward(Decoder& decoder, PatchHead& head, const torch::Tensor& tokens, int64_t grid_h,
                            int64_t grid_w, const torch::Tensor& anchors) {
  TedLocOutput out;
  out.z = decoder->forward(tokens, grid_h, grid_w);
  out.g_logits = head->forward(out.z);
  out.h = image_embedding(out.z, out.g_logits);
  out.scores = class_scores(out.h, anchors);
  return out;
}

torch::Tensor resize_min_max(const torch::Tensor& maps, int64_t out_h, int64_t out_w) {
  if (maps.dim() != 3 || out_h < 1 || out_w < 1)
    throw InputError(fmt::format("resize_min_max: maps of shape {} to {}x{}: expected [B, h, w] and a positive size",
                                 shape_of(maps), out_h, out_w));
  namespace F = torch::nn::functional;
  const auto up = F::interpolate(maps.unsqueeze(1), F::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{out_h, out_w})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false))
                      .squeeze(1);
  const auto flat = up.flatten(1);
  const auto lo = std::get<0>(flat.min(1, true)).unsqueeze(2);
  const auto range = std::get<0>(flat.max(1, true)).unsqueeze(2) - lo;
  // A constant map has no extent to normalise: it becomes 0 everywhere rather than rounding noise / noise.
  // Constant is judged on the input, which interpolation has not yet touched.
  const auto in_flat = maps.flatten(1);
  const auto constant = (std::get<0>(in_flat.max(1, true)) == std::get<0>(in_flat.min(1, true))).unsqueeze(2);
  return torch::where(constant, torch::zeros_like(up), (up - lo) / range.clamp_min(1e-30));
}

torch::Tensor localization_map(const torch::Tensor& g_logits, int64_t out_h, int64_t out_w) {
  return resize_min_max(torch::sigmoid(g_logits), out_h, out_w);
}

torch::Tensor class_dot_map(const torch::Tensor& z, const torch::Tensor& anchors, const torch::Tensor& classes) {
  if (z.dim() != 4 || classes.dim() != 1 || classes.size(0) != z.size(0))
    throw InputError(fmt::format("class_dot_map: z {} and classes {}: expected [B, d, H, W] and [B]", shape_of(z),
                                 shape_of(classes)));
  const auto t = anchors.index_select(0, classes);  // [B, d]
  return torch::einsum("bdhw,bd->bhw", {z, t});
}

}  // namespace tedloc::method
