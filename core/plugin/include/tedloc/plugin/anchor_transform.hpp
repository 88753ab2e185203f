#pragma once
// Plugin kind `anchor_transform`: turns the K x d class text embeddings into the frozen anchors.
#include <torch/types.h>

#include "tedloc/plugin/abi.hpp"

namespace tedloc {

struct Anchors {
  torch::Tensor anchors;  // [K, d]
  std::string note;       // which case ran (e.g. "qr: K <= d, orthonormal rows"); logged and recorded
};

struct AnchorTransform {
  static constexpr const char* kKind = "anchor_transform";
  virtual ~AnchorTransform() = default;
  virtual Anchors transform(const torch::Tensor& text_embeddings) = 0;
};

}  // namespace tedloc
