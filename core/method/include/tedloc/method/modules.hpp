#pragma once
// The trainable part of TeD-Loc (paper Fig. 2): decoder D and patch classifier g. The encoder is frozen
// and lives elsewhere; D consumes its patch tokens.
#include <torch/torch.h>

namespace tedloc::method {

enum class DecoderNorm { kBatch, kGroup, kNone };

struct DecoderOptions {
  DecoderOptions(int64_t in_channels, int64_t out_channels) : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);       // C_enc, the encoder's token width
  TORCH_ARG(int64_t, out_channels);      // d, the text-embedding width
  TORCH_ARG(int64_t, width) = 256;       // channels inside the decoder
  TORCH_ARG(int64_t, upsample_stages) = 2;  // each doubles the grid: 14x14 -> 56x56 with 2
  TORCH_ARG(DecoderNorm, norm) = DecoderNorm::kGroup;  // group norm: independent of the (small) batch
  TORCH_ARG(int64_t, groups) = 8;        // groups of the group norm; must divide width
};

// D: patch tokens [B, N, C_enc] on a grid_h x grid_w grid (N = grid_h * grid_w, row-major like a ViT)
// -> z [B, d, grid_h * 2^stages, grid_w * 2^stages].
// Layers: 1x1 conv C_enc -> width; per stage: bilinear x2 upsampling, 3x3 conv, norm, ReLU; 1x1 conv -> d.
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const DecoderOptions& options);
  torch::Tensor forward(const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w);
  DecoderOptions options;

 private:
  torch::nn::Conv2d proj_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Conv2d out_{nullptr};
};
TORCH_MODULE(Decoder);

struct PatchHeadOptions {
  explicit PatchHeadOptions(int64_t in_channels) : in_channels_(in_channels) {}
  TORCH_ARG(int64_t, in_channels);  // d
  TORCH_ARG(int64_t, hidden) = 0;   // 0: a linear classifier (1x1 conv); > 0: 1x1 conv, ReLU, 1x1 conv
};

// g: z [B, d, H, W] -> FG logits [B, H, W], applied to each cell alone. g(z_p) = sigmoid(logit_p); the
// losses and maps take the logits (stable BCE, stable eq. 3 weights).
class PatchHeadImpl : public torch::nn::Module {
 public:
  explicit PatchHeadImpl(const PatchHeadOptions& options);
  torch::Tensor forward(const torch::Tensor& z);
  PatchHeadOptions options;

 private:
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(PatchHead);

}  // namespace tedloc::method
