#include "tedloc/method/anchors.hpp"

#include <cmath>

#include <torch/torch.h>

#include "shape.hpp"
#include "tedloc/error.hpp"

namespace tedloc::method {
namespace {

// The anchors as a double CPU matrix, after checking that they can be orthogonalised at all.
torch::Tensor checked_double(const torch::Tensor& A, const char* transform) {
  if (!A.defined() || A.dim() != 2 || A.size(0) == 0 || A.size(1) == 0)
    throw InputError(fmt::format("anchors: {} needs a K x d matrix, got shape {}", transform,
                                 shape_of(A)));
  if (!A.is_floating_point()) throw InputError(fmt::format("anchors: {} needs a floating-point matrix", transform));
  auto a = A.detach().to(torch::kCPU, torch::kDouble);
  if (!torch::isfinite(a).all().item<bool>())
    throw InputError(fmt::format("anchors: {}: the matrix has NaN or infinite entries", transform));
  return a;
}

// Rank check from the singular values: a duplicated class has no direction of its own.
void check_full_rank(const torch::Tensor& singular_values, const char* transform) {
  const double smax = singular_values.max().item<double>();
  const double smin = singular_values.min().item<double>();
  if (!(smax > 0.0) || smin <= 1e-10 * smax)
    throw InputError(fmt::format(
        "anchors: {}: the {} text embeddings are linearly dependent (singular values {:.3g}..{:.3g}): "
        "duplicated or degenerate classes",
        transform, singular_values.size(0), smin, smax));
}

// Scale of the K > d case: anchors^T anchors = (K/d) I, so the mean squared anchor norm is 1 like t_k's.
double tight_frame_scale(int64_t K, int64_t d) { return std::sqrt(static_cast<double>(K) / static_cast<double>(d)); }

}  // namespace

Anchors identity_anchors(const torch::Tensor& A) {
  if (!A.defined() || A.dim() != 2) throw InputError("anchors: identity needs a K x d matrix");
  return {A, "identity"};
}

Anchors qr_anchors(const torch::Tensor& A) {
  const auto a = checked_double(A, "qr");
  const int64_t K = a.size(0), d = a.size(1);
  check_full_rank(torch::linalg::svdvals(a, c10::nullopt), "qr");
  const bool orthonormal = K <= d;
  // Reduced QR of the tall matrix: A^T (d x K) when K <= d, A (K x d) otherwise.
  auto [Q, R] = torch::linalg::qr(orthonormal ? a.t() : a, "reduced");
  // Flip the signs so that diag(R) > 0 (the QR factorisation is unique up to these signs).
  const auto signs = torch::sign(R.diagonal());
  Q = Q * signs.unsqueeze(0);
  torch::Tensor out = orthonormal ? Q.t() : Q * tight_frame_scale(K, d);
  return {out.to(A.options()).contiguous(), orthonormal ? "qr_orthonormal" : "qr_tight_frame"};
}

Anchors lowdin_anchors(const torch::Tensor& A) {
  const auto a = checked_double(A, "lowdin");
  const int64_t K = a.size(0), d = a.size(1);
  auto [U, S, Vh] = torch::linalg::svd(a, /*full_matrices=*/false, c10::nullopt);
  check_full_rank(S, "lowdin");
  const bool orthonormal = K <= d;
  torch::Tensor out = U.matmul(Vh);
  if (!orthonormal) out = out * tight_frame_scale(K, d);
  return {out.to(A.options()).contiguous(), orthonormal ? "lowdin_orthonormal" : "lowdin_tight_frame"};
}

}  // namespace tedloc::method
