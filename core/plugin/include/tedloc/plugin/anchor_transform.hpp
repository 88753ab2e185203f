#pragma once
// Plugin kind `anchor_transform`: turns the K x d class text embeddings into the frozen anchors.
#include <torch/types.h>

#include "tedloc/plugin/abi.hpp"

namespace tedloc {

struct Anchors {
  torch::Tensor anchors;  // [K, d]
  // Which case ran, logged and recorded with the run: "identity", "qr_orthonormal" (K <= d), "qr_tight_frame"
  // (K > d), "lowdin_orthonormal" (K <= d), "lowdin_tight_frame" (K > d), or a plugin's own name.
  std::string case_name;
};

struct AnchorTransform {
  static constexpr const char* kKind = "anchor_transform";
  virtual ~AnchorTransform() = default;
  virtual Anchors transform(const torch::Tensor& text_embeddings) = 0;
};

}  // namespace tedloc
