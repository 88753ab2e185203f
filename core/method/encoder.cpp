#include "tedloc/method/encoder.hpp"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "tedloc/clip/clip_model.hpp"
#include "tedloc/clip/safetensors.hpp"
#include "tedloc/error.hpp"

namespace tedloc::method {
Encoder make_encoder(const Params& p, int64_t image_size, const c10::Device& device) {
  const std::string type = p.get<std::string>("encoder.type");
  const std::string weights = p.get<std::string>("encoder.weights");
  if (weights.empty()) throw InputError("encoder.weights: the encoder's weight file is required");
  Encoder e;
  if (type == "clip") {
    auto model = std::make_shared<clip::CLIP>(clip::load_clip(weights));
    clip::VisionTransformer vit = (*model)->visual;
    vit->to(device);
    vit->eval();
    for (auto& t : vit->parameters()) t.requires_grad_(false);
    for (const auto& t : vit->parameters()) e.parameters += t.numel();
    e.tokens = [vit](const torch::Tensor& images) mutable { return vit->patch_tokens(images); };
    e.description = fmt::format("native CLIP ViT ({})", weights);
  } else {
    auto module = std::make_shared<torch::jit::script::Module>(torch::jit::load(weights, device));
    module->eval();
    for (const auto& t : module->parameters()) e.parameters += t.numel();
    e.tokens = [module](const torch::Tensor& images) { return module->forward({images}).toTensor(); };
    e.description = fmt::format("TorchScript encoder ({})", weights);
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor probe = e.tokens(torch::zeros({1, 3, image_size, image_size}, device));
  if (probe.dim() != 3) {
    throw InputError(fmt::format("{}: the encoder returned shape {}, expected [B, N, C] patch tokens", weights,
                                 c10::str(probe.sizes())));
  }
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(probe.size(1)))));
  if (side * side != probe.size(1)) {
    throw InputError(fmt::format("{}: {} patch tokens do not form a square grid", weights, probe.size(1)));
  }
  e.grid_h = e.grid_w = side;
  e.width = probe.size(2);
  return e;
}

std::vector<ParamDecl> encoder_params() {
  return {
      {"encoder.type", ParamType::String, "clip", "frozen encoder", false, {"clip", "torchscript"}},
      {"encoder.weights", ParamType::File, nullptr, "CLIP checkpoint (.safetensors/.pt) or TorchScript file", true},
  };
}

}  // namespace tedloc::method
