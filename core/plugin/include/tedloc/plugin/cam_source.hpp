#pragma once
// Plugin kind `cam_source`: class activation maps that TeD-Loc turns into pseudo-labels.
#include <torch/types.h>

#include "tedloc/plugin/abi.hpp"

namespace tedloc {

struct CamRequest {
  torch::Tensor images;                // [B, 3, H, W] float, normalised model input
  torch::Tensor labels;                // [B] int64: the class whose map is wanted (the true class in training)
  std::vector<std::string> image_ids;  // dataset ids, for sources that read maps from disk
};

struct CamSource {
  static constexpr const char* kKind = "cam_source";
  virtual ~CamSource() = default;
  // Maps [B, h, w] with values in [0, 1] (any h, w: the caller resizes).
  virtual torch::Tensor cams(const CamRequest& request) = 0;
};

}  // namespace tedloc
