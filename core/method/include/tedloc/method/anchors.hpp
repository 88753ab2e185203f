#pragma once
// Anchor transforms (paper sec. 3.1 "Text embeddings orthogonalization"; DESIGN.md "The method, precisely" 1).
// Input: A, K x d, one row per class (text embedding t_k). Output: K x d anchors, same dtype and device as A.
// All decompositions run in double precision on the CPU; anchors are small (K x d) and computed once.
#include <string>

#include <torch/types.h>

#include "tedloc/plugin/anchor_transform.hpp"

namespace tedloc::method {

// Anchors as they are.
Anchors identity_anchors(const torch::Tensor& A);

// Gram-Schmidt by Householder QR, the paper's choice. For K <= d the result depends on the class order.
// K <= d: reduced QR of A^T = Q R (Q: d x K), anchors = Q^T: orthonormal rows. Signs are fixed so that
//   diag(R) > 0, hence <anchor_k, t_k> = R_kk > 0: each anchor keeps a positive cosine with its source.
// K > d: exact orthogonality is impossible. Reduced QR of A = Q R (Q: K x d), diag(R) > 0, anchors = rows of
//   Q scaled by sqrt(K/d): a tight frame, anchors^T anchors = (K/d) I, mean squared row norm 1. Here
//   anchors = sqrt(K/d) A R^-1 with R^T R = A^T A (R is the Cholesky factor): a whitening of the embedding
//   space, which does NOT depend on the class order; a positive cosine of every anchor with its source is
//   typical but not guaranteed.
// Throws InputError if A is not a finite 2-D matrix or its rank is below min(K, d) (e.g. duplicated classes).
Anchors qr_anchors(const torch::Tensor& A);

// Loewdin's symmetric orthogonalisation, beyond the paper: with the SVD A = U S V^T,
// K <= d: anchors = U V^T = (A A^T)^(-1/2) A, the orthonormal rows closest to A (Frobenius);
// K > d: anchors = sqrt(K/d) U V^T, the polar factor scaled to the same tight frame as qr_anchors.
// Permutation-equivariant: permuting the classes permutes the anchors, unlike QR.
// Throws InputError like qr_anchors.
Anchors lowdin_anchors(const torch::Tensor& A);

}  // namespace tedloc::method
