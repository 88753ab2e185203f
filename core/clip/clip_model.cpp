#include "tedloc/clip/clip_model.hpp"

#include <cmath>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "tedloc/device.hpp"
#include "tedloc/error.hpp"

namespace tedloc::clip {

torch::Tensor quick_gelu(const torch::Tensor& x) { return x * torch::sigmoid(1.702 * x); }

torch::Tensor causal_mask(int64_t tokens) {
  return torch::full({tokens, tokens}, -std::numeric_limits<float>::infinity()).triu(1);
}

// ---------------------------------------------------------------------------------------------- blocks

SelfAttentionImpl::SelfAttentionImpl(const BlockOptions& o) : options(o) {
  TORCH_CHECK(o.heads() > 0 && o.width() % o.heads() == 0, "width ", o.width(), " is not a multiple of heads ", o.heads());
  // nn.MultiheadAttention's initialisation: xavier-uniform projections, zero biases.
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * o.width(), o.width()}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * o.width()}));
  out_proj = register_module("out_proj", torch::nn::Linear(o.width(), o.width()));
  torch::NoGradGuard no_grad;
  torch::nn::init::xavier_uniform_(in_proj_weight);
  out_proj->bias.zero_();
}

SelfAttentionImpl::Heads SelfAttentionImpl::project(const torch::Tensor& h) const {
  const int64_t n = h.size(0), t = h.size(1), heads = options.heads();
  auto qkv = torch::linear(h, in_proj_weight, in_proj_bias)
                 .view({n, t, 3, heads, options.width() / heads})
                 .permute({2, 0, 3, 1, 4});  // [3, N, heads, T, d]
  return {qkv[0], qkv[1], qkv[2]};
}

torch::Tensor SelfAttentionImpl::merge(const torch::Tensor& per_head) {
  const int64_t n = per_head.size(0), t = per_head.size(2);
  return out_proj(per_head.permute({0, 2, 1, 3}).reshape({n, t, options.width()}));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& h, const torch::Tensor& mask) {
  // Without gradients or mask, PyTorch's fused inference kernel (what nn.MultiheadAttention(batch_first=True)
  // takes in eval mode) computes the same thing faster: one kernel for bias + scale + head split.
  // Not under autocast: that kernel is not on autocast's lists and would meet bfloat16 projections.
  if (!torch::GradMode::is_enabled() && !mask.defined() && h.device().is_cpu() && !autocast_enabled(c10::DeviceType::CPU))
    return std::get<0>(at::_native_multi_head_attention(h, h, h, options.width(), options.heads(), in_proj_weight, in_proj_bias,
                                                        out_proj->weight, out_proj->bias, {}, /*need_weights=*/false));
  const auto [q, k, v] = project(h);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto logits = torch::matmul(q * scale, k.transpose(-2, -1));
  if (mask.defined()) logits = logits + mask;
  return merge(torch::matmul(logits.softmax(-1), v));
}

MlpImpl::MlpImpl(int64_t width)
    : c_fc(register_module("c_fc", torch::nn::Linear(width, 4 * width))),
      c_proj(register_module("c_proj", torch::nn::Linear(4 * width, width))) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return c_proj(quick_gelu(c_fc(x))); }

namespace {
torch::nn::LayerNorm layer_norm(int64_t width) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5));
}
}  // namespace

ResidualBlockImpl::ResidualBlockImpl(const BlockOptions& o)
    : ln_1(register_module("ln_1", layer_norm(o.width()))),
      ln_2(register_module("ln_2", layer_norm(o.width()))),
      attn(register_module("attn", SelfAttention(o))),
      mlp(register_module("mlp", Mlp(o.width()))) {}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  auto y = x + attn(ln_1(x), mask);
  return y + mlp(ln_2(y));
}

TransformerImpl::TransformerImpl(const BlockOptions& options, int64_t layers) {
  resblocks_ = register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) {
    blocks_.emplace_back(options);
    resblocks_->push_back(blocks_.back());
  }
}

torch::Tensor TransformerImpl::forward(torch::Tensor x, const torch::Tensor& mask, int64_t first, int64_t last) {
  if (last < 0) last = layers();
  for (int64_t i = first; i < last; ++i) x = blocks_[static_cast<size_t>(i)]->forward(x, mask);
  return x;
}

// ------------------------------------------------------------------------------------------ image tower

torch::Tensor interpolate_positional_table(const torch::Tensor& table, int64_t gh, int64_t gw) {
  const int64_t patches = table.size(0) - 1, width = table.size(1);
  if (gh * gw == patches) return table;
  const auto side = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(patches))));
  TORCH_CHECK(side * side == patches, "positional table of ", table.size(0), " rows is not 1 + a square");
  auto grid = table.slice(0, 1).reshape({1, side, side, width}).permute({0, 3, 1, 2});
  const double scale_h = (gh + 0.1) / side, scale_w = (gw + 0.1) / side;
  auto resized = at::upsample_bicubic2d(grid, {gh, gw}, /*align_corners=*/false, scale_h, scale_w);
  return torch::cat({table.slice(0, 0, 1), resized.permute({0, 2, 3, 1}).reshape({gh * gw, width})}, 0);
}

VisionTransformerImpl::VisionTransformerImpl(const VisionOptions& o) : options(o) {
  const double scale = 1.0 / std::sqrt(static_cast<double>(o.width()));  // OpenAI's initialisation
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, o.width(), o.patch_size())
                                                         .stride(o.patch_size()).bias(false)));
  class_embedding = register_parameter("class_embedding", scale * torch::randn({o.width()}));
  positional_embedding = register_parameter("positional_embedding", scale * torch::randn({1 + o.grid() * o.grid(), o.width()}));
  ln_pre = register_module("ln_pre", layer_norm(o.width()));
  transformer = register_module("transformer", Transformer(BlockOptions(o.width(), o.heads()), o.layers()));
  ln_post = register_module("ln_post", layer_norm(o.width()));
  proj = register_parameter("proj", scale * torch::randn({o.width(), o.output_dim()}));
}

std::pair<int64_t, int64_t> VisionTransformerImpl::grid_of(const torch::Tensor& images) const {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) < options.patch_size() || images.size(3) < options.patch_size())
    throw InputError(fmt::format("images of shape {} are not [N, 3, H, W] with H, W >= patch size {}",
                                 images.sizes(), options.patch_size()));
  return {images.size(2) / options.patch_size(), images.size(3) / options.patch_size()};
}

torch::Tensor VisionTransformerImpl::embed(const torch::Tensor& images, const torch::Tensor& positional_table) {
  auto patches = conv1(images.to(torch::kFloat)).flatten(2).transpose(1, 2);  // [N, P, width], row-major grid
  auto cls = class_embedding.view({1, 1, -1}).expand({patches.size(0), 1, -1});
  return ln_pre(torch::cat({cls, patches}, 1) + positional_table);
}

torch::Tensor VisionTransformerImpl::embed(const torch::Tensor& images) {
  const auto [gh, gw] = grid_of(images);
  return embed(images, interpolate_positional_table(positional_embedding, gh, gw));
}

torch::Tensor VisionTransformerImpl::project(const torch::Tensor& tokens) {
  return torch::matmul(ln_post(tokens), proj);
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& images) {
  return project(transformer(embed(images)).select(1, 0));
}

torch::Tensor VisionTransformerImpl::patch_tokens(const torch::Tensor& images) {
  return project(transformer(embed(images))).slice(1, 1);
}

// ------------------------------------------------------------------------------------------- text tower

TextTransformerImpl::TextTransformerImpl(const TextOptions& o, bool register_parts) : options(o) {
  token_embedding = torch::nn::Embedding(o.vocab_size(), o.width());
  positional_embedding = torch::randn({o.context_length(), o.width()}) * 0.01;  // OpenAI's initialisation
  transformer = Transformer(BlockOptions(o.width(), o.heads()), o.layers());
  ln_final = layer_norm(o.width());
  text_projection = torch::randn({o.width(), o.output_dim()}) / std::sqrt(static_cast<double>(o.width()));
  {
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(token_embedding->weight, 0.0, 0.02);
  }
  if (register_parts) {
    register_module("token_embedding", token_embedding);
    positional_embedding = register_parameter("positional_embedding", positional_embedding);
    register_module("transformer", transformer);
    register_module("ln_final", ln_final);
    text_projection = register_parameter("text_projection", text_projection);
  }
}

torch::Tensor TextTransformerImpl::forward(const torch::Tensor& token_ids) {
  if (token_ids.dim() != 2 || token_ids.size(1) != options.context_length())
    throw InputError(fmt::format("token ids of shape {} are not [M, {}]", token_ids.sizes(), options.context_length()));
  const auto ids = token_ids.to(torch::kLong);
  if (ids.numel() > 0 && (ids.min().item<int64_t>() < 0 || ids.max().item<int64_t>() >= options.vocab_size()))
    throw InputError(fmt::format("token ids outside the vocabulary [0, {})", options.vocab_size()));
  auto x = token_embedding(ids) + positional_embedding;
  x = ln_final(transformer(x, causal_mask(ids.size(1))));
  auto end_token = x.index({torch::arange(ids.size(0)), ids.argmax(-1)});  // the end token has the largest id
  return torch::matmul(end_token, text_projection);
}

// ------------------------------------------------------------------------------------------------- CLIP

CLIPImpl::CLIPImpl(const ClipConfig& c) : config(c) {
  visual = register_module("visual", VisionTransformer(c.vision));
  text = TextTransformer(c.text, /*register_parts=*/false);
  register_module("token_embedding", text->token_embedding);
  text->positional_embedding = register_parameter("positional_embedding", text->positional_embedding);
  register_module("transformer", text->transformer);
  register_module("ln_final", text->ln_final);
  text->text_projection = register_parameter("text_projection", text->text_projection);
  logit_scale = register_parameter("logit_scale", torch::full({}, std::log(1.0 / 0.07)));
}

torch::Tensor scaled_cosine_logits(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& logit_scale) {
  auto an = a / a.norm(2, -1, true);
  auto bn = b / b.norm(2, -1, true);
  return logit_scale.exp() * torch::matmul(an, bn.t());
}

torch::Tensor CLIPImpl::forward(const torch::Tensor& images, const torch::Tensor& token_ids) {
  return scaled_cosine_logits(encode_image(images), encode_text(token_ids), logit_scale);
}

torch::Tensor zeroshot_weights(CLIP& model, const torch::Tensor& token_ids) {
  if (token_ids.dim() != 3) throw InputError(fmt::format("zero-shot token ids of shape {} are not [K, T, L]", token_ids.sizes()));
  const int64_t classes = token_ids.size(0), templates = token_ids.size(1);
  auto e = model->encode_text(token_ids.reshape({classes * templates, token_ids.size(2)}));
  e = (e / e.norm(2, -1, true)).view({classes, templates, -1}).mean(1);
  return e / e.norm(2, -1, true);
}

// -------------------------------------------------------------------------------------------- loading

namespace {

SafetensorsFile load_torchscript(const std::string& path) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw InputError(fmt::format("{}: not a loadable TorchScript archive: {}", path, what.substr(0, what.find('\n'))));
  }
  // The state dict = parameters + buffers. Plain tensor attributes (OpenAI's text blocks keep their
  // causal attn_mask as one) are not weights and stay out.
  SafetensorsFile out;
  for (const auto& p : module.named_parameters(true)) out.tensors[p.name] = p.value.detach();
  for (const auto& b : module.named_buffers(true)) out.tensors[b.name] = b.value.detach();
  for (const char* dropped : {"input_resolution", "context_length", "vocab_size"}) out.tensors.erase(dropped);
  return out;
}

const torch::Tensor& require(const TensorMap& t, const std::string& name, int64_t rank, const std::string& path) {
  auto it = t.find(name);
  if (it == t.end()) throw InputError(fmt::format("{}: tensor '{}' is missing", path, name));
  if (it->second.dim() != rank)
    throw InputError(fmt::format("{}: tensor '{}' has shape {}, expected {} dimensions", path, name, it->second.sizes(), rank));
  return it->second;
}

// Blocks are numbered 0 .. L-1 under PREFIX<i>.; a gap shows up later as a missing tensor.
int64_t count_blocks(const TensorMap& t, const std::string& prefix) {
  int64_t layers = 0;
  for (const auto& [name, tensor] : t) {
    if (name.rfind(prefix, 0) != 0) continue;
    const auto rest = name.substr(prefix.size());
    const auto dot = rest.find('.');
    try {
      layers = std::max<int64_t>(layers, std::stoll(rest.substr(0, dot)) + 1);
    } catch (const std::exception&) {
    }  // not a block index: reported as an unexpected tensor when the weights are copied
  }
  return layers;
}

int64_t head_count(int64_t given, const SafetensorsFile& ckpt, const std::string& key, int64_t width, const std::string& path) {
  int64_t heads = given;
  if (heads == 0) {
    auto it = ckpt.metadata.find(key);
    if (it != ckpt.metadata.end()) {
      try {
        heads = std::stoll(it->second);
      } catch (const std::exception&) {
        throw InputError(fmt::format("{}: metadata {} = '{}' is not an integer", path, key, it->second));
      }
    } else {
      heads = width / 64;  // OpenAI's build_model(): head dim 64
    }
  }
  if (heads <= 0 || width % heads != 0)
    throw InputError(fmt::format("{}: {} = {} does not divide width {} (give the head count explicitly)", path, key, heads, width));
  return heads;
}

}  // namespace

SafetensorsFile load_checkpoint(const std::string& path) {
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file", path));
  in.read(magic, 4);
  const bool zip = in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4;
  return zip ? load_torchscript(path) : read_safetensors(path);  // TorchScript archives are zip files
}

ClipConfig infer_clip_config(const SafetensorsFile& ckpt, const HeadCounts& heads, const std::string& path) {
  const auto& t = ckpt.tensors;
  const auto& conv = require(t, "visual.conv1.weight", 4, path);
  const auto& vpos = require(t, "visual.positional_embedding", 2, path);
  const auto& vproj = require(t, "visual.proj", 2, path);
  const auto& tpos = require(t, "positional_embedding", 2, path);
  const auto& tokens = require(t, "token_embedding.weight", 2, path);
  const auto& ln_final = require(t, "ln_final.weight", 1, path);
  const auto& tproj = require(t, "text_projection", 2, path);

  ClipConfig c;
  const int64_t vwidth = conv.size(0), patches = vpos.size(0) - 1;
  const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(std::max<int64_t>(patches, 0)))));
  if (grid * grid != patches || grid == 0)
    throw InputError(fmt::format("{}: tensor 'visual.positional_embedding' has {} rows, not 1 + a square grid", path, vpos.size(0)));
  c.vision.width(vwidth).patch_size(conv.size(-1)).grid(grid).output_dim(vproj.size(1))
      .layers(count_blocks(t, "visual.transformer.resblocks."))
      .heads(head_count(heads.vision, ckpt, "vision_heads", vwidth, path));
  if (vproj.size(1) != tproj.size(1))
    throw InputError(fmt::format("{}: tensors 'visual.proj' {} and 'text_projection' {} disagree on the embedding width", path,
                                 vproj.sizes(), tproj.sizes()));
  const int64_t twidth = ln_final.size(0);
  c.text.width(twidth).context_length(tpos.size(0)).vocab_size(tokens.size(0)).output_dim(tproj.size(1))
      .layers(count_blocks(t, "transformer.resblocks."))
      .heads(head_count(heads.text, ckpt, "text_heads", twidth, path));
  return c;
}

void load_clip_weights(CLIP& model, const TensorMap& tensors, const std::string& path) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  auto copy_into = [&](const std::string& name, torch::Tensor& target) {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw InputError(fmt::format("{}: tensor '{}' is missing", path, name));
    if (it->second.sizes() != target.sizes())
      throw InputError(fmt::format("{}: tensor '{}' has shape {}, expected {}", path, name, it->second.sizes(), target.sizes()));
    target.copy_(it->second.to(torch::kFloat));
    used.insert(name);
  };
  for (auto& p : model->named_parameters(true)) copy_into(p.key(), p.value());
  for (auto& b : model->named_buffers(true)) copy_into(b.key(), b.value());
  for (const auto& [name, tensor] : tensors)
    if (!used.count(name))
      throw InputError(fmt::format("{}: unexpected tensor '{}' (not part of a ViT CLIP)", path, name));
}

CLIP load_clip(const std::string& path, const HeadCounts& heads) {
  const auto ckpt = load_checkpoint(path);
  CLIP model(infer_clip_config(ckpt, heads, path));
  load_clip_weights(model, ckpt.tensors, path);
  model->eval();
  return model;
}

}  // namespace tedloc::clip
