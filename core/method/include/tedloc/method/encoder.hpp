#pragma once
// The frozen image encoder E of a run: native CLIP ViT or a TorchScript module.
#include <cstdint>
#include <functional>
#include <string>

#include <torch/types.h>

#include "tedloc/params.hpp"

namespace tedloc::method {

// The frozen image encoder: images [B, 3, H, W] (normalised) -> patch tokens [B, gh * gw, C], row-major.
struct Encoder {
  std::function<torch::Tensor(const torch::Tensor&)> tokens;
  int64_t grid_h = 0, grid_w = 0, width = 0;  // for the run's input size
  int64_t parameters = 0;
  std::string description;
};

// encoder.type "clip" (native CLIP ViT from encoder.weights: .safetensors or OpenAI .pt; tokens after
// ln_post and proj) or "torchscript" (torch::jit::load(encoder.weights); forward(images) must return
// [B, N, C] patch tokens without a class token, on a square grid). Frozen and in eval mode.
Encoder make_encoder(const Params& params, int64_t image_size, const c10::Device& device);

// The declared parameters of the encoder.* group.
std::vector<ParamDecl> encoder_params();

}  // namespace tedloc::method
