#pragma once
// TeD-Loc's scores and losses, one function per equation of the paper (sec. 3.2; DESIGN.md 2 and 4).
// Shapes: z [B, d, H, W] patch embeddings from the decoder; g_logits [B, H, W] the patch head's logits
// (g(z_p) = sigmoid(g_logits_p)); anchors [K, d] frozen t_k; labels [B] int64 image classes;
// cells [B, s] int64 row-major cell indices (see pseudo_labels.hpp).
#include <torch/types.h>

#include "tedloc/method/pseudo_labels.hpp"

namespace tedloc::method {

// How the per-cell terms of eq. 1 and 2 are reduced over the batch.
enum class Reduction {
  kMean,  // mean over all sampled cells of the batch (default)
  kSum,   // sum over each image's sampled cells, as the equations are written, then mean over the images
};

// f(v, t_k) = <v, t_k>, plain dot product, no temperature: [..., d] x [K, d] -> [..., K].
torch::Tensor class_scores(const torch::Tensor& v, const torch::Tensor& anchors);

// The values of a per-cell map at the given cells: x [B, C, H, W] -> [B, s, C], or x [B, H, W] -> [B, s].
torch::Tensor gather_cells(const torch::Tensor& x, const torch::Tensor& cells);

// Eq. 1, L_KD = sum_{p in omega+} CE(y, softmax_k <z_p, t_k>): distils the image class's text anchor into
// the sampled FG cells' embeddings.
torch::Tensor kd_loss(const torch::Tensor& z, const torch::Tensor& anchors, const torch::Tensor& labels,
                      const torch::Tensor& fg_cells, Reduction reduction = Reduction::kMean);

// Eq. 2, P_CL = sum_{p in omega} BCE(y'_p, g(z_p)) with y' = 1 on the sampled FG cells and 0 on the BG ones
// (computed from the logits, numerically stable).
torch::Tensor patch_classifier_loss(const torch::Tensor& g_logits, const torch::Tensor& fg_cells,
                                    const torch::Tensor& bg_cells, Reduction reduction = Reduction::kMean);

// Eq. 3, h = sum_p a_p z_p with a_p = g(z_p) / sum_j g(z_j) over ALL cells: [B, d]. The weights are
// computed as softmax_p(log sigmoid(g_logits_p)), the same value without 0/0 when every g underflows.
torch::Tensor image_embedding(const torch::Tensor& z, const torch::Tensor& g_logits);

// Eq. 4, I_CL = CE(y, softmax_k <h, t_k>), mean over the batch.
torch::Tensor image_classifier_loss(const torch::Tensor& h, const torch::Tensor& anchors,
                                    const torch::Tensor& labels);

// Eq. 5's lambdas. A term with lambda 0 is not computed: the paper's loss sets are
// kd = {1, 0, 0}, kd_pcl = {l1, l2, 0}, kd_pcl_icl = {l1, l2, l3}, lambdas in (0, 1].
struct LossWeights {
  double kd = 1.0;
  double pcl = 1.0;
  double icl = 1.0;
};

struct LossBatch {
  torch::Tensor z;         // [B, d, H, W]
  torch::Tensor g_logits;  // [B, H, W]
  torch::Tensor anchors;   // [K, d]
  torch::Tensor labels;    // [B]
  CellSample cells;        // omega+ and omega-, [B, s] each
};

struct LossValues {
  torch::Tensor kd, pcl, icl;  // undefined when the term is off
  torch::Tensor total;
};

// Eq. 5, L = l1 L_KD + l2 P_CL + l3 I_CL. Throws InputError for a negative or non-finite lambda, all
// lambdas 0, or inconsistent shapes (naming the tensor).
LossValues total_loss(const LossBatch& in, const LossWeights& weights, Reduction reduction = Reduction::kMean);

}  // namespace tedloc::method
