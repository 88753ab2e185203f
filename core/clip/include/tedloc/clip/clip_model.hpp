#pragma once
// OpenAI CLIP (ViT image tower + text tower) in the LibTorch C++ frontend, with OpenAI's state-dict
// names so that `.safetensors` and OpenAI's TorchScript `.pt` checkpoints load as they are.
// Every tensor is float32 whatever the stored dtype. Tokens are batch-first, [N, T, width].
#include <map>
#include <string>
#include <utility>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "tedloc/clip/safetensors.hpp"

namespace tedloc::clip {

// QuickGELU(x) = x * sigmoid(1.702 x), CLIP's activation.
torch::Tensor quick_gelu(const torch::Tensor& x);

// Causal additive mask [T, T]: -inf above the diagonal (token i sees tokens j <= i), 0 elsewhere.
torch::Tensor causal_mask(int64_t tokens);

struct BlockOptions {
  BlockOptions(int64_t width, int64_t heads) : width_(width), heads_(heads) {}
  TORCH_ARG(int64_t, width);
  TORCH_ARG(int64_t, heads);  // head dim = width / heads
};

// nn.MultiheadAttention's self-attention with its parameter names: in_proj_weight stacks W_q, W_k, W_v
// by rows; head h uses channels [h d, (h+1) d) of each.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const BlockOptions& options);
  struct Heads {
    torch::Tensor q, k, v;  // each [N, heads, T, d], q NOT scaled
  };
  Heads project(const torch::Tensor& h) const;
  // Concatenates the heads [N, heads, T, d] -> [N, T, width] and applies out_proj.
  torch::Tensor merge(const torch::Tensor& per_head);
  // softmax(q k^T / sqrt(d) + mask) v, merged. `mask` is additive [T, T] or undefined.
  torch::Tensor forward(const torch::Tensor& h, const torch::Tensor& mask = {});

  BlockOptions options;
  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(SelfAttention);

// c_proj(QuickGELU(c_fc(x))), hidden width 4 x width.
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(int64_t width);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(Mlp);

// Pre-LN residual block: x + attn(ln_1(x)), then + mlp(ln_2(x)).
class ResidualBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualBlockImpl(const BlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  SelfAttention attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(ResidualBlock);

// The stack of blocks, registered as `resblocks.<i>`.
class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(const BlockOptions& options, int64_t layers);
  // Runs blocks [first, last) (last = -1: to the end).
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask = {}, int64_t first = 0, int64_t last = -1);
  ResidualBlock block(int64_t i) const { return blocks_.at(static_cast<size_t>(i)); }
  int64_t layers() const { return static_cast<int64_t>(blocks_.size()); }

 private:
  torch::nn::ModuleList resblocks_;
  std::vector<ResidualBlock> blocks_;
};
TORCH_MODULE(Transformer);

struct VisionOptions {
  TORCH_ARG(int64_t, width) = 768;
  TORCH_ARG(int64_t, layers) = 12;
  TORCH_ARG(int64_t, heads) = 12;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, grid) = 14;  // the stored positional table is 1 + grid^2 rows
  TORCH_ARG(int64_t, output_dim) = 512;
};

// Positional table for a gh x gw grid from the stored one (1 + S^2 rows, S = sqrt): unchanged when
// gh*gw = S^2, else the S x S patch part resized bicubically exactly as SCLIP/NACLIP do it:
// F.interpolate(scale_factor=((gh+0.1)/S, (gw+0.1)/S), mode='bicubic', align_corners=False), whose
// output is (gh, gw) and whose sampling uses those factors, not gh/S. Class row kept first.
torch::Tensor interpolate_positional_table(const torch::Tensor& table, int64_t gh, int64_t gw);

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const VisionOptions& options);
  // Patch grid (H / patch, W / patch) of an image batch [N, 3, H, W]; trailing pixels are dropped.
  std::pair<int64_t, int64_t> grid_of(const torch::Tensor& images) const;
  // Tokens entering the first block: [class | patches row-major] + positional table, ln_pre. [N, 1+P, width]
  torch::Tensor embed(const torch::Tensor& images, const torch::Tensor& positional_table);
  torch::Tensor embed(const torch::Tensor& images);  // with interpolate_positional_table for its grid
  // ln_post then @ proj on every token: [N, T, width] -> [N, T, output_dim].
  torch::Tensor project(const torch::Tensor& tokens);
  // The global embedding: project(class token). [N, output_dim]
  torch::Tensor forward(const torch::Tensor& images);
  // Every final token projected, class token dropped: [N, P, output_dim], patch p = i * gw + j.
  torch::Tensor patch_tokens(const torch::Tensor& images);

  VisionOptions options;
  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding, positional_embedding, proj;
  torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  Transformer transformer{nullptr};
};
TORCH_MODULE(VisionTransformer);

struct TextOptions {
  TORCH_ARG(int64_t, width) = 512;
  TORCH_ARG(int64_t, layers) = 12;
  TORCH_ARG(int64_t, heads) = 8;
  TORCH_ARG(int64_t, context_length) = 77;
  TORCH_ARG(int64_t, vocab_size) = 49408;
  TORCH_ARG(int64_t, output_dim) = 512;
};

// The text tower. CLIP registers its parts under OpenAI's top-level names (token_embedding,
// positional_embedding, transformer, ln_final, text_projection); standing alone it registers them itself.
class TextTransformerImpl : public torch::nn::Module {
 public:
  explicit TextTransformerImpl(const TextOptions& options, bool register_parts = true);
  // token_ids [M, context_length] (int64, end token = the largest id) -> [M, output_dim]: the causal
  // blocks, ln_final, the row at argmax(ids) (first maximal index), @ text_projection.
  torch::Tensor forward(const torch::Tensor& token_ids);

  TextOptions options;
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding, text_projection;
  Transformer transformer{nullptr};
  torch::nn::LayerNorm ln_final{nullptr};
};
TORCH_MODULE(TextTransformer);

struct ClipConfig {
  VisionOptions vision;
  TextOptions text;
};

class CLIPImpl : public torch::nn::Module {
 public:
  explicit CLIPImpl(const ClipConfig& config);
  torch::Tensor encode_image(const torch::Tensor& images) { return visual->forward(images); }
  torch::Tensor encode_text(const torch::Tensor& token_ids) { return text->forward(token_ids); }
  // logits_per_image [N, M] = exp(logit_scale) * cos(image i, text j).
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& token_ids);

  ClipConfig config;
  VisionTransformer visual{nullptr};
  TextTransformer text{nullptr};
  torch::Tensor logit_scale;  // scalar, log of the temperature's inverse
};
TORCH_MODULE(CLIP);

// exp(logit_scale) * (a / |a|) (b / |b|)^T: [N, E] x [M, E] -> [N, M].
torch::Tensor scaled_cosine_logits(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& logit_scale);

// Zero-shot class weights from prompt-template ensembles: token_ids [K, T, L] (class k, template t)
// -> [K, E]: per class, the mean over templates of the L2-normalised text embeddings, renormalised.
torch::Tensor zeroshot_weights(CLIP& model, const torch::Tensor& token_ids);

// Head counts: 0 = take them from the file's "__metadata__" (vision_heads / text_heads) when present,
// else width / 64 as OpenAI's build_model() does for real checkpoints.
struct HeadCounts {
  int64_t vision = 0, text = 0;
};

// A checkpoint's tensors (in their stored dtype) and metadata: `.safetensors`, or an OpenAI TorchScript
// `.pt` archive (its named parameters/buffers; the integer entries input_resolution, context_length and
// vocab_size are dropped as build_model() drops them). Chosen by content, not by file extension.
SafetensorsFile load_checkpoint(const std::string& path);

// The configuration from the tensors' shapes (missing tensors are an InputError naming them).
ClipConfig infer_clip_config(const SafetensorsFile& checkpoint, const HeadCounts& heads, const std::string& path);

// Copies every parameter from the checkpoint (converted to float32). A missing, mis-shaped or unexpected
// tensor is one InputError naming the file and the tensor.
void load_clip_weights(CLIP& model, const TensorMap& tensors, const std::string& path);

// load_checkpoint + infer_clip_config + load_clip_weights; the model is in eval mode, float32, CPU.
CLIP load_clip(const std::string& path, const HeadCounts& heads = {});

}  // namespace tedloc::clip
