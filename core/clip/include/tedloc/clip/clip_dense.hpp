#pragma once
// Training-free dense CLIP features (vanilla, SCLIP, NACLIP) and CLIP-ES Grad-CAM, as free functions
// over the native model. Each follows the goldens' definitions (shared/golden/clip/README.md, and the reference commits it
// names). Inputs: images [N, 3, H, W] already normalised; any H, W (the positional table is interpolated
// with interpolate_positional_table). Patch outputs are [N, P, E] with patch p = i * gw + j.
#include <torch/types.h>

#include "tedloc/clip/clip_model.hpp"

namespace tedloc::clip {

// Vanilla dense features: every final token through ln_post and proj, class token dropped.
torch::Tensor vanilla_patch_tokens(VisionTransformer& vit, const torch::Tensor& images);

// SCLIP (Wang et al. 2024), last block with correlative self-attention, per head:
// A = softmax(q q^T / sqrt(d)) + softmax(k k^T / sqrt(d)) (rows sum to 2, not renormalised);
// x = x + out_proj(A v); x = x + mlp(ln_2(x)); then ln_post and proj on every token.
torch::Tensor sclip_patch_tokens(VisionTransformer& vit, const torch::Tensor& images);

// NACLIP's neighbourhood term Omega [(1+P), (1+P)] for a gh x gw grid: 0 on the class row/column,
// exp(-((i-k)^2 + (j-l)^2) / (2 std^2)) between patches (i, j) and (k, l).
torch::Tensor naclip_attention_bias(int64_t gh, int64_t gw, double gaussian_std);

// NACLIP (Hajimiri et al. 2025), arch 'reduced', attention 'naclip', last block, per head:
// A = softmax(k k^T / sqrt(d) + Omega); x = out_proj(A v) (no residual, no ln_2, no FFN);
// then ln_post and proj on every token.
torch::Tensor naclip_patch_tokens(VisionTransformer& vit, const torch::Tensor& images, double gaussian_std = 5.0);

// Dense class maps: cos(patch token, class embedding) for every class, [N, P, E] x [K, E] -> [N, K, gh, gw].
torch::Tensor dense_class_maps(const torch::Tensor& patch_tokens, const torch::Tensor& class_embeddings, int64_t gh, int64_t gw);

// CLIP-ES's positional table (its upsample_pos_emb): the patch table resized bilinearly
// (align_corners=False, the identity at the stored size) to gh x gw, and the whole table, class row
// included, rounded to float16 and back.
torch::Tensor clip_es_positional_table(const torch::Tensor& table, int64_t gh, int64_t gw);

struct GradCam {
  torch::Tensor probs;  // [N, K] softmax over the classes of exp(logit_scale) cos(mean patch feature, text)
  torch::Tensor raw;    // [N, gh, gw] ReLU(sum_c w_c a_c), w_c = mean over the grid of d p[n, target] / d a_c
  torch::Tensor cam;    // [N, gh, gw] raw min-max normalised twice: m = m - min; m = m / (1e-7 + max)
};

// Grad-CAM on CLIP as CLIP-ES (Lin et al. 2023, generate_cams_voc12.py `perform`) computes it, for
// each image n and its target class targets[n] among the K text embeddings [K, E]:
//  reproduced: CLIP-ES's positional table (clip_es_positional_table, fp16 rounding included); blocks
//    0 .. L-2 without gradient; target layer = the last block's ln_1, activations a = its output on the
//    patch tokens; forward_last_layer (last block as usual, ln_post on every token, MEAN of the patch
//    tokens @ proj, both features L2-normalised, softmax over the K classes of exp(logit_scale) x cosine);
//    the gradient of p[n, target] w.r.t. a, channel weights = its grid mean, ReLU of the weighted sum;
//    the double min-max normalisation (scale_cam_image per layer, then after the layer average).
//  left out: the grid is H / patch x W / patch of the actual input (CLIP-ES hard-codes H // 16); the
//    script's prompt ensemble and background classes (the caller brings the text embeddings), the cv2
//    resize to the image size, the attention-affinity refinement and box masks, multi-scale and flip,
//    fp16 execution on GPU.
// All N images run in one forward/backward pass (each p[n, .] depends only on image n).
GradCam clip_es_gradcam(CLIP& model, const torch::Tensor& images, const torch::Tensor& text_embeddings,
                        const torch::Tensor& targets);

// scale_cam_image's normalisation of one or more maps [..., gh, gw]: per map m - min, / (1e-7 + max).
torch::Tensor min_max_normalise(const torch::Tensor& maps);

}  // namespace tedloc::clip
