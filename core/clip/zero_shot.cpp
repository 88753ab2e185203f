#include "tedloc/clip/zero_shot.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "tedloc/error.hpp"

namespace tedloc::clip {

ZeroShotClip load_zero_shot_clip(const std::string& weights, const torch::Tensor& class_embeddings, c10::Device device,
                                 const std::string& who) {
  ZeroShotClip out;
  out.model = load_clip(weights);
  const int64_t width = out.model->config.vision.output_dim();
  if (!class_embeddings.defined())
    throw InputError(fmt::format("{}: the task gives no class embeddings (a text encoder must provide them)", who));
  if (class_embeddings.dim() != 2 || class_embeddings.size(1) != width || class_embeddings.size(0) == 0)
    throw InputError(fmt::format("{}: class embeddings of shape {} do not fit {} (embedding width {}): use text features of the same CLIP "
                                 "or a text encoder of width {}",
                                 who, class_embeddings.sizes(), weights, width, width));
  out.model->to(device);
  out.class_embeddings = class_embeddings.to(device, torch::kFloat);
  out.device = device;
  return out;
}

torch::Tensor zero_shot_logits(ZeroShotClip& clip, const torch::Tensor& images) {
  return scaled_cosine_logits(clip.model->encode_image(images), clip.class_embeddings, clip.model->logit_scale);
}

}  // namespace tedloc::clip
