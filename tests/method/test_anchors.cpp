// Anchor transforms: orthonormality / tight frame, the sign convention, order (in)dependence, both cases.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tedloc/error.hpp"
#include "tedloc/method/anchors.hpp"

using namespace tedloc::method;

namespace {

// Correlated unit rows like CLIP's text embeddings: a shared direction plus a class-specific part.
torch::Tensor correlated_rows(int64_t K, int64_t d, uint64_t seed) {
  torch::manual_seed(seed);
  auto a = torch::randn({1, d}).expand({K, d}) * 2.0 + torch::randn({K, d});
  return a / a.norm(2, 1, true);
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

// (A A^T)^(-1/2) A (K <= d) or A (A^T A)^(-1/2) (K > d) from an eigendecomposition: an oracle for Loewdin
// that shares no code with the SVD used by lowdin_anchors.
torch::Tensor lowdin_by_eigh(const torch::Tensor& A) {
  const auto a = A.to(torch::kDouble);
  const bool wide = a.size(0) <= a.size(1);
  const auto gram = wide ? a.matmul(a.t()) : a.t().matmul(a);
  auto [evals, evecs] = torch::linalg::eigh(gram, "L");
  const auto inv_sqrt = evecs.matmul(torch::diag(evals.rsqrt())).matmul(evecs.t());
  return wide ? inv_sqrt.matmul(a) : a.matmul(inv_sqrt);
}

}  // namespace

TEST(Anchors, IdentityKeepsTheMatrix) {
  const auto A = correlated_rows(5, 8, 1);
  const auto r = identity_anchors(A);
  EXPECT_EQ(r.case_name, "identity");
  EXPECT_TRUE(torch::equal(r.anchors, A));
}

TEST(Anchors, QrFewClassesGivesOrthonormalRowsWithPositiveDiagonal) {
  const int64_t K = 10, d = 32;
  const auto A = correlated_rows(K, d, 2);
  const auto off_diagonal = torch::ones({K, K}).triu(1).to(torch::kBool);
  ASSERT_GT(A.matmul(A.t()).masked_select(off_diagonal).min().item<double>(), 0.5);  // the sources overlap
  const auto r = qr_anchors(A);
  EXPECT_EQ(r.case_name, "qr_orthonormal");
  ASSERT_EQ(r.anchors.sizes(), A.sizes());
  EXPECT_EQ(r.anchors.scalar_type(), torch::kFloat);
  EXPECT_LT(max_abs(r.anchors.matmul(r.anchors.t()) - torch::eye(K)), 1e-5);
  // anchors A^T = Q^T A^T = R: upper triangular with a positive diagonal (the sign convention), hence each
  // anchor has a positive cosine R_kk with its own source.
  const auto R = r.anchors.matmul(A.t());
  EXPECT_LT(max_abs(R.tril(-1)), 1e-5);
  EXPECT_GT(R.diagonal().min().item<double>(), 0.0);
  // Gram-Schmidt keeps the first class's direction.
  EXPECT_LT(max_abs(r.anchors[0] - A[0]), 1e-5);
}

TEST(Anchors, QrManyClassesGivesTightFrame) {
  const int64_t K = 50, d = 8;
  const auto A = correlated_rows(K, d, 3);
  const auto r = qr_anchors(A);
  EXPECT_EQ(r.case_name, "qr_tight_frame");
  ASSERT_EQ(r.anchors.sizes(), A.sizes());
  const double scale = std::sqrt(double(K) / d);
  EXPECT_LT(max_abs(r.anchors.t().matmul(r.anchors) - torch::eye(d) * (scale * scale)), 1e-4);
  EXPECT_NEAR(r.anchors.pow(2).sum(1).mean().item<double>(), 1.0, 1e-5);  // mean squared norm 1
  // Q^T A = R: upper triangular, positive diagonal.
  const auto R = r.anchors.t().matmul(A) / scale;
  EXPECT_LT(max_abs(R.tril(-1)), 1e-5);
  EXPECT_GT(R.diagonal().min().item<double>(), 0.0);
}

TEST(Anchors, QrDependsOnClassOrderLowdinDoesNot) {
  for (const auto& [K, d] : {std::pair<int64_t, int64_t>{10, 32}, {50, 8}}) {
    SCOPED_TRACE(fmt::format("K={} d={}", K, d));
    const auto A = correlated_rows(K, d, 4);
    const auto perm = torch::randperm(K, torch::kLong);
    const auto qr_then_perm = qr_anchors(A).anchors.index_select(0, perm);
    const auto perm_then_qr = qr_anchors(A.index_select(0, perm)).anchors;
    if (K <= d) {
      EXPECT_GT(max_abs(qr_then_perm - perm_then_qr), 0.1);  // Gram-Schmidt favours the first classes
    } else {
      // A R^-1 with R^T R = A^T A: permuting the rows of A leaves A^T A, hence R, unchanged.
      EXPECT_LT(max_abs(qr_then_perm - perm_then_qr), 1e-5);
    }
    const auto lowdin_then_perm = lowdin_anchors(A).anchors.index_select(0, perm);
    const auto perm_then_lowdin = lowdin_anchors(A.index_select(0, perm)).anchors;
    EXPECT_LT(max_abs(lowdin_then_perm - perm_then_lowdin), 1e-5);
  }
}

TEST(Anchors, LowdinFewClassesIsTheSymmetricOrthogonalisation) {
  const int64_t K = 10, d = 32;
  const auto A = correlated_rows(K, d, 5);
  const auto r = lowdin_anchors(A);
  EXPECT_EQ(r.case_name, "lowdin_orthonormal");
  EXPECT_LT(max_abs(r.anchors.matmul(r.anchors.t()) - torch::eye(K)), 1e-5);
  EXPECT_LT(max_abs(r.anchors.to(torch::kDouble) - lowdin_by_eigh(A)), 1e-5);
  // <anchor_k, t_k> = (U S U^T)_kk > 0: every anchor keeps a positive cosine with its source.
  EXPECT_GT((r.anchors * A).sum(1).min().item<double>(), 0.0);
}

TEST(Anchors, LowdinManyClassesIsTheScaledPolarFactor) {
  const int64_t K = 50, d = 8;
  const auto A = correlated_rows(K, d, 6);
  const auto r = lowdin_anchors(A);
  EXPECT_EQ(r.case_name, "lowdin_tight_frame");
  const double scale = std::sqrt(double(K) / d);
  EXPECT_LT(max_abs(r.anchors.t().matmul(r.anchors) - torch::eye(d) * (scale * scale)), 1e-4);
  EXPECT_LT(max_abs(r.anchors.to(torch::kDouble) - scale * lowdin_by_eigh(A)), 1e-5);
}

TEST(Anchors, DuplicatedClassIsRejected) {
  auto A = correlated_rows(6, 16, 7);
  A[3] = A[1];
  EXPECT_THROW(qr_anchors(A), tedloc::InputError);
  EXPECT_THROW(lowdin_anchors(A), tedloc::InputError);
  EXPECT_THROW(qr_anchors(torch::ones({3})), tedloc::InputError);
  auto B = correlated_rows(4, 8, 8);
  B[0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(lowdin_anchors(B), tedloc::InputError);
}
