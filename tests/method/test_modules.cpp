// Decoder D, patch head g and the inference helpers.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tedloc/error.hpp"
#include "tedloc/method/inference.hpp"
#include "tedloc/method/losses.hpp"

using namespace tedloc::method;

namespace {
int64_t parameter_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

TEST(Decoder, ShapesAndParameterCounts) {
  // C_enc 16 -> width 32 -> d 8, two x2 stages: a 3 x 4 token grid becomes 12 x 16.
  // proj 16*32 + 32 = 544; per stage 3x3 conv without bias 32*32*9 = 9216 + group norm 2*32 = 64;
  // out 32*8 + 8 = 264. Total 544 + 2 * 9280 + 264 = 19368.
  Decoder D(DecoderOptions(16, 8).width(32).upsample_stages(2));
  const auto z = D->forward(torch::randn({2, 12, 16}), 3, 4);
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{2, 8, 12, 16}));
  EXPECT_EQ(parameter_count(*D), 19368);
  // Without a norm the stage convs keep their bias: 2 * (9216 + 32) instead of 2 * 9280.
  Decoder plain(DecoderOptions(16, 8).width(32).upsample_stages(2).norm(DecoderNorm::kNone));
  EXPECT_EQ(parameter_count(*plain), 544 + 2 * 9248 + 264);
  // Batch norm: same parameter count as group norm (its running statistics are buffers).
  Decoder bn(DecoderOptions(16, 8).width(32).upsample_stages(3).norm(DecoderNorm::kBatch));
  EXPECT_EQ(parameter_count(*bn), 544 + 3 * 9280 + 264);
  EXPECT_EQ(bn->forward(torch::randn({2, 12, 16}), 3, 4).sizes(), (std::vector<int64_t>{2, 8, 24, 32}));
}

TEST(Decoder, TokensAreRowMajorOnTheGrid) {
  // One channel, no stage, identity 1x1 convs: z is the tokens laid out on the grid, z[r][c] = r * 4 + c.
  Decoder D(DecoderOptions(1, 1).width(1).upsample_stages(0).norm(DecoderNorm::kNone));
  torch::NoGradGuard no_grad;
  for (auto& p : D->named_parameters()) p.value().fill_(p.key().find("weight") != std::string::npos ? 1.f : 0.f);
  const auto tokens = torch::arange(12, torch::kFloat).view({1, 12, 1});
  EXPECT_TRUE(torch::equal(D->forward(tokens, 3, 4), torch::arange(12, torch::kFloat).view({1, 1, 3, 4})));
}

TEST(Decoder, BadInput) {
  Decoder D(DecoderOptions(16, 8).width(32));
  EXPECT_THROW(D->forward(torch::randn({2, 11, 16}), 3, 4), tedloc::InputError);
  EXPECT_THROW(D->forward(torch::randn({2, 12, 15}), 3, 4), tedloc::InputError);
  EXPECT_THROW(Decoder(DecoderOptions(16, 8).width(30).groups(8)), tedloc::InputError);
}

TEST(PatchHead, ShapesAndParameterCounts) {
  PatchHead linear(PatchHeadOptions(8));
  EXPECT_EQ(parameter_count(*linear), 8 + 1);
  EXPECT_EQ(linear->forward(torch::randn({2, 8, 5, 6})).sizes(), (std::vector<int64_t>{2, 5, 6}));
  PatchHead mlp(PatchHeadOptions(8).hidden(4));
  EXPECT_EQ(parameter_count(*mlp), 8 * 4 + 4 + 4 + 1);
  EXPECT_THROW(mlp->forward(torch::randn({2, 7, 5, 6})), tedloc::InputError);
}

TEST(Inference, MapsAndScores) {
  // resize_min_max: a 1 x 2 map (1, 3) becomes 0 at the left edge and 1 at the right edge.
  const auto m = resize_min_max(torch::tensor({1.f, 3.f}).view({1, 1, 2}), 2, 4);
  EXPECT_EQ(m.sizes(), (std::vector<int64_t>{1, 2, 4}));
  EXPECT_FLOAT_EQ(m.min().item<float>(), 0.f);
  EXPECT_FLOAT_EQ(m.max().item<float>(), 1.f);
  EXPECT_FLOAT_EQ(m[0][0][0].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(m[0][1][3].item<float>(), 1.f);
  EXPECT_TRUE(torch::equal(resize_min_max(torch::full({1, 2, 2}, 0.7f), 3, 3), torch::zeros({1, 3, 3})));
  const auto g = torch::randn({2, 4, 4});
  EXPECT_TRUE(torch::allclose(localization_map(g, 8, 8), resize_min_max(torch::sigmoid(g), 8, 8)));

  // <z_p, t_c>: z_0 = (1, 0), z_1 = (0, 2); class 1 with t_1 = (0, 1) gives (0, 2), class 0 gives (1, 0).
  const auto z = torch::tensor({1.f, 0.f, 0.f, 2.f}).view({1, 2, 1, 2});
  EXPECT_TRUE(torch::equal(class_dot_map(z, torch::eye(2), torch::tensor({1L})), torch::tensor({0.f, 2.f}).view({1, 1, 2})));
  EXPECT_TRUE(torch::equal(class_dot_map(z, torch::eye(2), torch::tensor({0L})), torch::tensor({1.f, 0.f}).view({1, 1, 2})));

  Decoder D(DecoderOptions(16, 8).width(16).upsample_stages(1));
  PatchHead head(PatchHeadOptions(8));
  const auto anchors = torch::randn({5, 8});
  const auto out = tedloc_forward(D, head, torch::randn({3, 6, 16}), 2, 3, anchors);
  EXPECT_EQ(out.z.sizes(), (std::vector<int64_t>{3, 8, 4, 6}));
  EXPECT_EQ(out.g_logits.sizes(), (std::vector<int64_t>{3, 4, 6}));
  EXPECT_TRUE(torch::allclose(out.h, image_embedding(out.z, out.g_logits)));
  EXPECT_TRUE(torch::allclose(out.scores, out.h.matmul(anchors.t())));
}

TEST(Training, LossesFallOnAToyProblem) {
  // Tokens of class y carry a bright blob where the object is; the CAM is that blob. A few SGD steps on D
  // and g with all three losses must lower each term.
  torch::manual_seed(0);
  const int64_t B = 8, K = 3, C = 12, gh = 4, gw = 4;
  const auto anchors = torch::eye(K).repeat({1, 2}).slice(1, 0, 6) / std::sqrt(2.0);  // K x 6, unit rows
  const auto labels = torch::arange(B, torch::kLong) % K;
  auto tokens = 0.1 * torch::randn({B, gh * gw, C});
  std::vector<Candidates> cands;
  for (int64_t b = 0; b < B; ++b) {
    auto cam = torch::zeros({gh, gw});
    cam.slice(0, 1, 3).slice(1, b % 2, b % 2 + 2) = 1.0;
    tokens[b].index_put_({cam.flatten() > 0, labels[b].item<int64_t>()}, 1.0);
    cands.push_back(candidate_cells(cam, CandidateOptions{2 * gh, 2 * gw, 12, 20}));
  }
  Decoder D(DecoderOptions(C, 6).width(16).upsample_stages(1));
  PatchHead g(PatchHeadOptions(6));
  std::vector<torch::Tensor> params = D->parameters();
  for (auto& p : g->parameters()) params.push_back(p);
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.1).momentum(0.9));
  auto gen = at::detail::createCPUGenerator(1);
  auto step = [&](bool train) {
    const auto z = D->forward(tokens, gh, gw);
    const auto t = total_loss({z, g->forward(z), anchors, labels, sample_cells(cands, 4, gen)}, {1, 1, 1});
    if (train) {
      sgd.zero_grad();
      t.total.backward();
      sgd.step();
    }
    return t;
  };
  const auto before = step(false);
  for (int i = 0; i < 60; ++i) step(true);
  const auto after = step(false);
  EXPECT_LT(after.kd.item<double>(), 0.5 * before.kd.item<double>());
  EXPECT_LT(after.pcl.item<double>(), 0.5 * before.pcl.item<double>());
  EXPECT_LT(after.icl.item<double>(), 0.5 * before.icl.item<double>());
}
