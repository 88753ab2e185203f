#pragma once
// Plugin kind `loss_set`: the training objective over one batch.
#include <map>
#include <torch/types.h>

#include "tedloc/plugin/abi.hpp"

namespace tedloc {

struct LossInputs {
  torch::Tensor z;         // [B, d, H, W] decoder embeddings z_p
  torch::Tensor g_logits;  // [B, H, W] logits of g: g(z_p) = sigmoid(g_logits_p), FG probability
  torch::Tensor anchors;   // [K, d] frozen text anchors t_k
  torch::Tensor labels;    // [B] int64 image labels y
  torch::Tensor fg_cells;  // [B, s] int64 flat cell indices of omega+ (sampled this step)
  torch::Tensor bg_cells;  // [B, s] int64 flat cell indices of omega-
};

struct LossTerms {
  torch::Tensor total;                          // scalar to back-propagate
  std::map<std::string, torch::Tensor> terms;   // each term (unweighted), for logging
};

struct LossSet {
  static constexpr const char* kKind = "loss_set";
  virtual ~LossSet() = default;
  virtual LossTerms compute(const LossInputs& inputs) = 0;
};

}  // namespace tedloc
