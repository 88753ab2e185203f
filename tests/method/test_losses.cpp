// Each equation against a value computed by hand. softplus(x) = log(1 + e^x) below.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tedloc/error.hpp"
#include "tedloc/method/losses.hpp"

using namespace tedloc::method;

namespace {

// z: one image, d = 2, a 1 x 2 grid with z_0 = (1, 0) and z_1 = (0, 2). Anchors t_0 = (1, 0), t_1 = (0, 1).
torch::Tensor z_one() { return torch::tensor({1.f, 0.f, 0.f, 2.f}).view({1, 2, 1, 2}); }
torch::Tensor eye_anchors() { return torch::eye(2); }
torch::Tensor cells(std::vector<std::vector<int64_t>> rows) {
  std::vector<torch::Tensor> t;
  for (auto& r : rows) t.push_back(torch::tensor(r, torch::kLong));
  return torch::stack(t);
}

}  // namespace

TEST(Scores, DotProduct) {
  // <(1, 2), (3, 4)> = 11, <(1, 2), (-1, 0)> = -1.
  const auto s = class_scores(torch::tensor({1.f, 2.f}).view({1, 2}), torch::tensor({3.f, 4.f, -1.f, 0.f}).view({2, 2}));
  EXPECT_TRUE(torch::equal(s, torch::tensor({11.f, -1.f}).view({1, 2})));
}

TEST(Losses, GatherCellsIsRowMajor) {
  const auto x = torch::arange(12, torch::kFloat).view({1, 2, 2, 3});  // channel 0: 0..5, channel 1: 6..11
  const auto g = gather_cells(x, cells({{4, 0}}));                    // cell 4 = row 1, col 1
  EXPECT_TRUE(torch::equal(g, torch::tensor({4.f, 10.f, 0.f, 6.f}).view({1, 2, 2})));
  EXPECT_THROW(gather_cells(x, cells({{6}})), tedloc::InputError);
}

TEST(Losses, KdEq1ByHand) {
  // Image 0, label 0, omega+ = {0, 1}: scores of z_0 = (1, 0): CE = -log(e/(e+1)) = softplus(-1) = 0.31326169;
  //   of z_1 = (0, 2): CE = softplus(2) = 2.12692801.
  // Image 1 (same z), label 1, omega+ = {1, 1}: scores (0, 2): CE = softplus(-2) = 0.12692801, twice.
  // Mean over the 4 cells: (0.31326169 + 2.12692801 + 2 * 0.12692801) / 4 = 0.67351143.
  // Sum per image then mean over images: (2.44018970 + 0.25385602) / 2 = 1.34702286.
  const auto z = torch::cat({z_one(), z_one()});
  const auto labels = torch::tensor({0L, 1L});
  const auto fg = cells({{0, 1}, {1, 1}});
  EXPECT_NEAR(kd_loss(z, eye_anchors(), labels, fg).item<double>(), 0.67351143, 1e-6);
  EXPECT_NEAR(kd_loss(z, eye_anchors(), labels, fg, Reduction::kSum).item<double>(), 1.34702286, 1e-6);
}

TEST(Losses, PatchClassifierEq2ByHand) {
  // Logits (2, 0, -1) on a 1 x 3 grid; omega+ = {0, 1} (y' = 1), omega- = {2, 2} (y' = 0).
  // FG: -log sigmoid(2) = softplus(-2) = 0.12692801; -log sigmoid(0) = log 2 = 0.69314718.
  // BG: -log(1 - sigmoid(-1)) = softplus(-1) = 0.31326169, twice.
  // Sum 1.44659857; mean over the 4 cells 0.36164964.
  const auto g = torch::tensor({2.f, 0.f, -1.f}).view({1, 1, 3});
  const auto fg = cells({{0, 1}}), bg = cells({{2, 2}});
  EXPECT_NEAR(patch_classifier_loss(g, fg, bg).item<double>(), 0.36164964, 1e-6);
  EXPECT_NEAR(patch_classifier_loss(g, fg, bg, Reduction::kSum).item<double>(), 1.44659857, 1e-6);
}

TEST(Losses, ImageEmbeddingEq3ByHand) {
  // g logits (0, ln 3): g = (0.5, 0.75), a = (0.5, 0.75) / 1.25 = (0.4, 0.6);
  // h = 0.4 (1, 0) + 0.6 (0, 2) = (0.4, 1.2).
  const auto g = torch::tensor({0.f, std::log(3.f)}).view({1, 1, 2});
  EXPECT_TRUE(torch::allclose(image_embedding(z_one(), g), torch::tensor({0.4f, 1.2f}).view({1, 2})));
  // Logits (-200, -200 + ln 3): g underflows in float32, yet g_1 / g_0 = 3 still gives a = (0.25, 0.75),
  // h = (0.25, 1.5), not 0/0.
  const auto tiny = torch::tensor({-200.f, -200.f + std::log(3.f)}).view({1, 1, 2});
  EXPECT_TRUE(torch::allclose(image_embedding(z_one(), tiny), torch::tensor({0.25f, 1.5f}).view({1, 2})));
}

TEST(Losses, ImageClassifierEq4ByHand) {
  // h = (0.4, 1.2), label 1: scores (0.4, 1.2), CE = softplus(0.4 - 1.2) = softplus(-0.8) = 0.37110067.
  const auto h = torch::tensor({0.4f, 1.2f}).view({1, 2});
  EXPECT_NEAR(image_classifier_loss(h, eye_anchors(), torch::tensor({1L})).item<double>(), 0.37110067, 1e-6);
}

TEST(Losses, TotalEq5ByHand) {
  // z as above, g logits (0, ln 3), label 1, omega+ = {1}, omega- = {0}:
  // L_KD = CE of scores (0, 2) for class 1 = softplus(-2) = 0.12692801.
  // P_CL = mean(-log 0.75, -log(1 - 0.5)) = (0.28768207 + 0.69314718) / 2 = 0.49041463.
  // I_CL = 0.37110067 (h = (0.4, 1.2), as in the two tests above).
  // L = 0.5 * 0.12692801 + 0.25 * 0.49041463 + 1 * 0.37110067 = 0.55716833.
  LossBatch in{z_one().requires_grad_(), torch::tensor({0.f, std::log(3.f)}).view({1, 1, 2}).requires_grad_(),
                eye_anchors(), torch::tensor({1L}), CellSample{cells({{1}}), cells({{0}})}};
  const auto t = total_loss(in, {0.5, 0.25, 1.0});
  EXPECT_NEAR(t.kd.item<double>(), 0.12692801, 1e-6);
  EXPECT_NEAR(t.pcl.item<double>(), 0.49041463, 1e-6);
  EXPECT_NEAR(t.icl.item<double>(), 0.37110067, 1e-6);
  EXPECT_NEAR(t.total.item<double>(), 0.55716833, 1e-6);
  t.total.backward();
  EXPECT_GT(in.z.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(in.g_logits.grad().abs().sum().item<double>(), 0);

  // The kd loss set: only L_KD, g gets no gradient from it.
  in.g_logits.mutable_grad() = torch::Tensor();
  const auto kd_only = total_loss(in, {1.0, 0.0, 0.0});
  EXPECT_FALSE(kd_only.pcl.defined());
  EXPECT_FALSE(kd_only.icl.defined());
  EXPECT_NEAR(kd_only.total.item<double>(), 0.12692801, 1e-6);

  EXPECT_THROW(total_loss(in, {0, 0, 0}), tedloc::InputError);
  EXPECT_THROW(total_loss(in, {-1, 1, 1}), tedloc::InputError);
  in.labels = torch::tensor({1L, 0L});
  EXPECT_THROW(total_loss(in, {1, 1, 1}), tedloc::InputError);
}
