#include "tedloc/method/losses.hpp"

#include <cmath>

#include <torch/torch.h>

#include "tedloc/error.hpp"

namespace tedloc::method {
namespace {

namespace F = torch::nn::functional;

void require(bool ok, const char* tensor, const std::string& why) {
  if (!ok) throw InputError(fmt::format("losses: tensor '{}': {}", tensor, why));
}

void check_cells(const torch::Tensor& cells, int64_t batch, int64_t n_cells, const char* name) {
  require(cells.defined() && cells.dim() == 2 && cells.size(0) == batch && cells.scalar_type() == torch::kLong, name,
          fmt::format("expected int64 [B={}, s]", batch));
  require(cells.numel() == 0 || (cells.min().item<int64_t>() >= 0 && cells.max().item<int64_t>() < n_cells), name,
          fmt::format("cell index outside the grid of {} cells", n_cells));
}

torch::Tensor reduce_cells(const torch::Tensor& per_cell, Reduction reduction) {
  return reduction == Reduction::kMean ? per_cell.mean() : per_cell.sum(1).mean();
}

}  // namespace

torch::Tensor class_scores(const torch::Tensor& v, const torch::Tensor& anchors) {
  require(anchors.dim() == 2 && v.size(-1) == anchors.size(1), "anchors", "expected [K, d] with d = the embedding width");
  return torch::matmul(v, anchors.t());
}

torch::Tensor gather_cells(const torch::Tensor& x, const torch::Tensor& cells) {
  require(x.dim() == 3 || x.dim() == 4, "x", "expected [B, H, W] or [B, C, H, W]");
  const auto flat = x.dim() == 4 ? x.flatten(2) : x.flatten(1).unsqueeze(1);  // [B, C, N]
  check_cells(cells, x.size(0), flat.size(2), "cells");
  const auto picked = flat.gather(2, cells.unsqueeze(1).expand({flat.size(0), flat.size(1), cells.size(1)}));
  return x.dim() == 4 ? picked.transpose(1, 2) : picked.squeeze(1);  // [B, s, C] or [B, s]
}

torch::Tensor kd_loss(const torch::Tensor& z, const torch::Tensor& anchors, const torch::Tensor& labels,
                      const torch::Tensor& fg_cells, Reduction reduction) {
  require(z.dim() == 4, "z", "expected [B, d, H, W]");
  require(labels.dim() == 1 && labels.size(0) == z.size(0), "labels", "expected [B]");
  const auto logits = class_scores(gather_cells(z, fg_cells), anchors);  // [B, s, K]
  const int64_t B = logits.size(0), s = logits.size(1);
  const auto per_cell = F::cross_entropy(logits.reshape({B * s, -1}), labels.repeat_interleave(s),
                                         F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return reduce_cells(per_cell.view({B, s}), reduction);
}

torch::Tensor patch_classifier_loss(const torch::Tensor& g_logits, const torch::Tensor& fg_cells,
                                    const torch::Tensor& bg_cells, Reduction reduction) {
  require(g_logits.dim() == 3, "g_logits", "expected [B, H, W]");
  const auto fg = gather_cells(g_logits, fg_cells), bg = gather_cells(g_logits, bg_cells);
  const auto logits = torch::cat({fg, bg}, 1);
  const auto targets = torch::cat({torch::ones_like(fg), torch::zeros_like(bg)}, 1);
  const auto per_cell = F::binary_cross_entropy_with_logits(
      logits, targets, F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone));
  return reduce_cells(per_cell, reduction);
}

torch::Tensor image_embedding(const torch::Tensor& z, const torch::Tensor& g_logits) {
  require(z.dim() == 4, "z", "expected [B, d, H, W]");
  require(g_logits.dim() == 3 && g_logits.size(0) == z.size(0) && g_logits.size(1) == z.size(2) &&
              g_logits.size(2) == z.size(3),
          "g_logits", "expected [B, H, W] on z's grid");
  const auto a = torch::softmax(F::logsigmoid(g_logits.flatten(1)), 1);  // [B, N], = g_p / sum_j g_j
  return torch::bmm(z.flatten(2), a.unsqueeze(2)).squeeze(2);           // [B, d]
}

torch::Tensor image_classifier_loss(const torch::Tensor& h, const torch::Tensor& anchors,
                                    const torch::Tensor& labels) {
  require(h.dim() == 2, "h", "expected [B, d]");
  require(labels.dim() == 1 && labels.size(0) == h.size(0), "labels", "expected [B]");
  return F::cross_entropy(class_scores(h, anchors), labels);
}

LossValues total_loss(const LossBatch& in, const LossWeights& w, Reduction reduction) {
  for (const double l : {w.kd, w.pcl, w.icl})
    if (!std::isfinite(l) || l < 0)
      throw InputError(fmt::format("losses: lambda {} must be finite and >= 0", l));
  if (w.kd == 0 && w.pcl == 0 && w.icl == 0) throw InputError("losses: every lambda is 0, nothing to train");
  LossValues t;
  t.total = torch::zeros({}, in.z.options());
  if (w.kd > 0) {
    t.kd = kd_loss(in.z, in.anchors, in.labels, in.cells.fg, reduction);
    t.total = t.total + w.kd * t.kd;
  }
  if (w.pcl > 0) {
    t.pcl = patch_classifier_loss(in.g_logits, in.cells.fg, in.cells.bg, reduction);
    t.total = t.total + w.pcl * t.pcl;
  }
  if (w.icl > 0) {
    t.icl = image_classifier_loss(image_embedding(in.z, in.g_logits), in.anchors, in.labels);
    t.total = t.total + w.icl * t.icl;
  }
  return t;
}

}  // namespace tedloc::method
