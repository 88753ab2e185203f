#pragma once
// TeD-Loc at inference, no class label needed (DESIGN.md "The method, precisely" 6).
#include <torch/types.h>

#include "tedloc/method/modules.hpp"

namespace tedloc::method {

// Everything one forward pass of D and g gives for a batch of encoder tokens [B, N, C_enc].
struct TedLocOutput {
  torch::Tensor z;         // [B, d, H', W'] patch embeddings
  torch::Tensor g_logits;  // [B, H', W'], g(z_p) = sigmoid
  torch::Tensor h;         // [B, d] image embedding (eq. 3)
  torch::Tensor scores;    // [B, K] class scores <h, t_k>
};
TedLocOutput tedloc_forward(Decoder& decoder, PatchHead& head, const torch::Tensor& tokens, int64_t grid_h,
                            int64_t grid_w, const torch::Tensor& anchors);

// Maps [B, h, w] -> [B, out_h, out_w]: bilinear upsampling (align_corners = false), then min-max
// normalisation of each map to [0, 1]; a constant map becomes all zeros.
torch::Tensor resize_min_max(const torch::Tensor& maps, int64_t out_h, int64_t out_w);

// The localisation map M: g(z_p) over the grid, resized and normalised (resize_min_max).
torch::Tensor localization_map(const torch::Tensor& g_logits, int64_t out_h, int64_t out_w);

// The second map (paper Table 4): <z_p, t_c> on the grid for one class c per image (classes [B] int64:
// the true class for GT-known, the predicted one otherwise). Raw scores [B, H', W']; pass them through
// resize_min_max for evaluation.
torch::Tensor class_dot_map(const torch::Tensor& z, const torch::Tensor& anchors, const torch::Tensor& classes);

}  // namespace tedloc::method
