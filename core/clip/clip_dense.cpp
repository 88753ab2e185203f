#include "tedloc/clip/clip_dense.hpp"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "tedloc/error.hpp"

namespace tedloc::clip {
namespace {

ResidualBlock last_block(VisionTransformer& vit) {
  TORCH_CHECK(vit->transformer->layers() > 0, "the image tower has no block");
  return vit->transformer->block(vit->transformer->layers() - 1);
}

// Tokens entering the last block: embedding (with the given positional table) and blocks 0 .. L-2.
torch::Tensor tokens_before_last_block(VisionTransformer& vit, const torch::Tensor& images, const torch::Tensor& table) {
  return vit->transformer->forward(vit->embed(images, table), torch::Tensor(), 0, vit->transformer->layers() - 1);
}

torch::Tensor interpolated_table(VisionTransformer& vit, const torch::Tensor& images) {
  const auto [gh, gw] = vit->grid_of(images);
  return interpolate_positional_table(vit->positional_embedding, gh, gw);
}

// softmax(a b^T / sqrt(d) + bias) per head, [N, H, T, d] x [N, H, T, d] -> [N, H, T, T].
torch::Tensor attention_weights(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& bias = {}) {
  auto logits = torch::matmul(a * (1.0 / std::sqrt(static_cast<double>(a.size(-1)))), b.transpose(-2, -1));
  if (bias.defined()) logits = logits + bias;
  return logits.softmax(-1);
}

}  // namespace

torch::Tensor vanilla_patch_tokens(VisionTransformer& vit, const torch::Tensor& images) {
  return vit->patch_tokens(images);
}

torch::Tensor sclip_patch_tokens(VisionTransformer& vit, const torch::Tensor& images) {
  auto x = tokens_before_last_block(vit, images, interpolated_table(vit, images));
  auto block = last_block(vit);
  const auto [q, k, v] = block->attn->project(block->ln_1(x));
  auto correlative = attention_weights(q, q) + attention_weights(k, k);
  x = x + block->attn->merge(torch::matmul(correlative, v));
  x = x + block->mlp(block->ln_2(x));
  return vit->project(x).slice(1, 1);
}

torch::Tensor naclip_attention_bias(int64_t gh, int64_t gw, double gaussian_std) {
  const int64_t patches = gh * gw;
  auto index = torch::arange(patches, torch::kFloat64);
  auto row = torch::floor(index / gw), col = index - row * gw;
  auto d2 = (row.unsqueeze(1) - row.unsqueeze(0)).square() + (col.unsqueeze(1) - col.unsqueeze(0)).square();
  auto omega = torch::zeros({1 + patches, 1 + patches}, torch::kFloat64);
  omega.slice(0, 1).slice(1, 1).copy_(torch::exp(-d2 / (2.0 * gaussian_std * gaussian_std)));
  return omega.to(torch::kFloat);
}

torch::Tensor naclip_patch_tokens(VisionTransformer& vit, const torch::Tensor& images, double gaussian_std) {
  const auto [gh, gw] = vit->grid_of(images);
  auto x = tokens_before_last_block(vit, images, interpolated_table(vit, images));
  auto block = last_block(vit);
  const auto [q, k, v] = block->attn->project(block->ln_1(x));
  auto attention = attention_weights(k, k, naclip_attention_bias(gh, gw, gaussian_std));
  return vit->project(block->attn->merge(torch::matmul(attention, v))).slice(1, 1);
}

torch::Tensor dense_class_maps(const torch::Tensor& patch_tokens, const torch::Tensor& class_embeddings, int64_t gh, int64_t gw) {
  if (patch_tokens.dim() != 3 || patch_tokens.size(1) != gh * gw || class_embeddings.dim() != 2 ||
      class_embeddings.size(1) != patch_tokens.size(2))
    throw InputError(fmt::format("dense maps: patch tokens {} and class embeddings {} do not fit a {} x {} grid",
                                 patch_tokens.sizes(), class_embeddings.sizes(), gh, gw));
  auto p = patch_tokens / patch_tokens.norm(2, -1, true);
  auto c = class_embeddings / class_embeddings.norm(2, -1, true);
  return torch::matmul(p, c.t()).transpose(1, 2).reshape({patch_tokens.size(0), class_embeddings.size(0), gh, gw});
}

torch::Tensor clip_es_positional_table(const torch::Tensor& table, int64_t gh, int64_t gw) {
  const int64_t patches = table.size(0) - 1, width = table.size(1);
  const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(patches))));
  auto grid = table.slice(0, 1).t().reshape({1, width, side, side});
  auto resized = at::upsample_bilinear2d(grid, {gh, gw}, /*align_corners=*/false).reshape({width, gh * gw}).t();
  return torch::cat({table.slice(0, 0, 1), resized}, 0).to(torch::kHalf).to(torch::kFloat);
}

torch::Tensor min_max_normalise(const torch::Tensor& maps) {
  auto flat = maps.flatten(-2);
  flat = flat - std::get<0>(flat.min(-1, true));
  flat = flat / (1e-7 + std::get<0>(flat.max(-1, true)));
  return flat.view(maps.sizes());
}

GradCam clip_es_gradcam(CLIP& model, const torch::Tensor& images, const torch::Tensor& text_embeddings,
                        const torch::Tensor& targets) {
  if (c10::InferenceMode::is_enabled()) throw std::logic_error("clip_es_gradcam needs autograd: call it outside InferenceMode");
  auto& vit = model->visual;
  const auto [gh, gw] = vit->grid_of(images);
  const int64_t n = images.size(0), classes = text_embeddings.size(0);
  if (targets.dim() != 1 || targets.size(0) != n || (n > 0 && (targets.min().item<int64_t>() < 0 || targets.max().item<int64_t>() >= classes)))
    throw InputError(fmt::format("Grad-CAM targets {} are not {} class indices in [0, {})", targets.sizes(), n, classes));

  torch::Tensor x;
  {
    torch::NoGradGuard no_grad;  // CLIP-ES runs blocks 0 .. L-2 without gradients
    x = tokens_before_last_block(vit, images, clip_es_positional_table(vit->positional_embedding, gh, gw));
  }
  torch::AutoGradMode with_grad(true);
  auto block = last_block(vit);
  // The target layer is ln_1 of the last block: its output a is what Grad-CAM weighs and differentiates.
  auto a = block->ln_1(x).detach().requires_grad_(true);
  auto y = x + block->attn(a);
  y = y + block->mlp(block->ln_2(y));
  auto image_features = torch::matmul(vit->ln_post(y).slice(1, 1).mean(1), vit->proj);
  auto probs = scaled_cosine_logits(image_features, text_embeddings.to(torch::kFloat), model->logit_scale).softmax(-1);
  auto target_probs = probs.gather(1, targets.to(torch::kLong).view({n, 1})).sum();
  auto grad = torch::autograd::grad({target_probs}, {a})[0].slice(1, 1);  // [N, P, width]

  auto activations = a.detach().slice(1, 1);
  auto weights = grad.mean(1, true);  // the grid mean of each channel's gradient
  auto raw = (activations * weights).sum(-1).relu().view({n, gh, gw});
  return {probs.detach(), raw, min_max_normalise(min_max_normalise(raw))};
}

}  // namespace tedloc::clip
