#pragma once
// Plugin kind `baseline`: a method that localizes without training (CLIP variants, CLIP-ES), scored by
// the evaluator like any other method.
#include <torch/types.h>

#include "tedloc/plugin/abi.hpp"

namespace tedloc {

struct BaselineRequest {
  torch::Tensor images;  // [B, 3, H, W] normalised model input
  torch::Tensor labels;  // [B] int64 true classes (used only in GT-known mode)
};

struct BaselineOutput {
  torch::Tensor maps;          // [B, h, w] localization map of the chosen class, any range
  torch::Tensor class_scores;  // [B, K]
};

struct Baseline {
  static constexpr const char* kKind = "baseline";
  virtual ~Baseline() = default;
  virtual BaselineOutput infer(const BaselineRequest& request) = 0;
};

}  // namespace tedloc
