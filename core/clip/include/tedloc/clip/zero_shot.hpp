#pragma once
// CLIP as a zero-shot classifier over a task's class embeddings (PluginContext::class_embeddings): what
// the CLIP baselines and CAM sources (plugins/clip_baselines, plugins/clip_cams) share.
#include <string>

#include <c10/core/Device.h>
#include <torch/types.h>

#include "tedloc/clip/clip_model.hpp"

namespace tedloc::clip {

struct ZeroShotClip {
  CLIP model{nullptr};             // eval mode, on `device`
  torch::Tensor class_embeddings;  // [K, E] float32 on `device`
  c10::Device device = c10::Device(c10::kCPU);
};

// Loads `weights` (.safetensors or OpenAI .pt, see load_clip) onto `device` and checks the class
// embeddings: InputError "WHO: ..." when they are undefined, not 2-D, or not of the model's embedding width.
ZeroShotClip load_zero_shot_clip(const std::string& weights, const torch::Tensor& class_embeddings, c10::Device device,
                                 const std::string& who);

// Zero-shot logits [B, K] = exp(logit_scale) cos(global image embedding, class embedding k).
torch::Tensor zero_shot_logits(ZeroShotClip& clip, const torch::Tensor& images);

}  // namespace tedloc::clip
