// Otsu's threshold, candidate cells and the FG/BG sampler on synthetic CAMs.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "tedloc/error.hpp"
#include "python_oracle.hpp"
#include "tedloc/method/pseudo_labels.hpp"
#include "tedloc/clip/text_encoder.hpp"

using namespace tedloc::method;

namespace {

// A bimodal map: a bright rectangle (object) on a darker background, both noisy, clipped to [0, 1].
torch::Tensor bimodal_cam(int64_t H, int64_t W, uint64_t seed) {
  torch::manual_seed(seed);
  auto cam = 0.25 + 0.08 * torch::randn({H, W}, torch::kDouble);
  cam.slice(0, H / 4, H / 2).slice(1, W / 3, 3 * W / 4) += 0.45;
  return cam.clamp(0, 1);
}

// Otsu by explicit loops over the same 256-bin histogram: for every split i, class weights and means of
// bins [0, i] and [i+1, 255], between-class variance w0 w1 (mu0 - mu1)^2; the first best centre.
double otsu_by_loops(const torch::Tensor& cam) {
  const auto v = cam.flatten().to(torch::kDouble);
  const double lo = v.min().item<double>(), hi = v.max().item<double>();
  std::vector<double> hist(256, 0.0);
  for (int64_t i = 0; i < v.numel(); ++i)
    hist[std::min<int64_t>(255, int64_t((v[i].item<double>() - lo) / (hi - lo) * 256))] += 1;
  auto centre = [&](int i) { return lo + (hi - lo) / 256 * (i + 0.5); };
  double best = -1, threshold = 0;
  for (int split = 0; split < 255; ++split) {
    double w0 = 0, s0 = 0, w1 = 0, s1 = 0;
    for (int i = 0; i < 256; ++i) (i <= split ? w0 : w1) += hist[i], (i <= split ? s0 : s1) += hist[i] * centre(i);
    const double var = w0 * w1 * std::pow(s0 / w0 - s1 / w1, 2);
    if (var > best) best = var, threshold = centre(split);
  }
  return threshold;
}

// The between-class variance of splitting the raw values at t (values > t are FG).
double between_class_variance(const torch::Tensor& cam, double t) {
  const auto v = cam.flatten().to(torch::kDouble);
  const auto fg = v > t;
  const double w1 = fg.sum().item<double>(), w0 = v.numel() - w1;
  if (w0 == 0 || w1 == 0) return 0;
  const double mu1 = v.masked_select(fg).mean().item<double>(), mu0 = v.masked_select(~fg).mean().item<double>();
  return w0 * w1 * (mu0 - mu1) * (mu0 - mu1);
}

}  // namespace

TEST(Otsu, TwoLevelMapSplitsTheLevels) {
  auto cam = torch::full({10, 10}, 0.2);
  cam.slice(0, 0, 4) = 0.8;  // 40 cells at 0.8, 60 at 0.2
  const double t = otsu_threshold(cam);
  EXPECT_GE(t, 0.2);
  EXPECT_LT(t, 0.8);
  EXPECT_TRUE(torch::equal(cam > t, cam == 0.8f));
}

TEST(Otsu, MatchesLoopsOnTheHistogramAndBruteForceOnTheValues) {
  for (uint64_t seed : {1, 2, 3, 4, 5}) {
    SCOPED_TRACE(seed);
    const auto cam = bimodal_cam(48, 40, seed);
    const double t = otsu_threshold(cam);
    EXPECT_DOUBLE_EQ(t, otsu_by_loops(cam));
    // Brute force over every split between distinct values: the histogram's choice loses almost none of
    // the best between-class variance and labels almost every pixel alike. (The variance is flat near its
    // maximum, so the two thresholds themselves can be a few bins apart.)
    const auto sorted = std::get<0>(cam.flatten().sort());
    double best = 0, best_t = 0;
    for (int64_t i = 0; i + 1 < sorted.numel(); ++i) {
      const double cut = sorted[i].item<double>();
      const double var = between_class_variance(cam, cut);
      if (var > best) best = var, best_t = cut;
    }
    EXPECT_GT(between_class_variance(cam, t), 0.995 * best);
    EXPECT_GT((cam > t).eq(cam > best_t).to(torch::kDouble).mean().item<double>(), 0.99);
  }
}

TEST(Otsu, SameAsScikitImage) {
  if (!tedloc::test::python_has("skimage.filters")) GTEST_SKIP() << "python3-skimage is not installed";
  // Random maps of several sizes and shapes (bimodal, skewed, uniform), stored as float32 .npy; skimage's
  // threshold_otsu(map) (nbins = 256) written next to each.
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("tedloc_test_otsu_{}", ::getpid());
  std::filesystem::create_directories(dir);
  ASSERT_EQ(tedloc::test::run_python(fmt::format(R"(
import numpy as np
from skimage.filters import threshold_otsu
rng = np.random.default_rng(0)
for i in range(30):
    h, w = rng.integers(4, 80, size=2)
    kind = i % 3
    if kind == 0:
        m = rng.normal(0.25, 0.1, (h, w)); m[: h // 2, : w // 3] += rng.uniform(0.2, 0.6)
    elif kind == 1:
        m = rng.exponential(0.2, (h, w))
    else:
        m = rng.uniform(0, 1, (h, w))
    m = m.astype(np.float32)
    np.save("{0}/map%d.npy" % i, m)
    open("{0}/otsu%d.txt" % i, "w").write(repr(float(threshold_otsu(m))))
)", dir.string())), 0);
  for (int i = 0; i < 30; ++i) {
    SCOPED_TRACE(i);
    const auto map = tedloc::clip::load_anchors_npy((dir / fmt::format("map{}.npy", i)).string());
    std::ifstream in(dir / fmt::format("otsu{}.txt", i));
    double expected = 0;
    in >> expected;
    const double t = otsu_threshold(map);
    EXPECT_NEAR(t, expected, 1e-6);
    EXPECT_TRUE(torch::equal(map > t, map > expected));
  }
  std::filesystem::remove_all(dir);
}

TEST(Otsu, ConstantMapAndBadMaps) {
  EXPECT_DOUBLE_EQ(otsu_threshold(torch::full({4, 4}, 0.3, torch::kDouble)), 0.3);
  EXPECT_THROW(otsu_threshold(torch::zeros({0, 3})), tedloc::InputError);
  EXPECT_THROW(otsu_threshold(torch::zeros({3})), tedloc::InputError);
  auto nan = torch::zeros({3, 3});
  nan[1][1] = NAN;
  EXPECT_THROW(otsu_threshold(nan), tedloc::InputError);
}

TEST(CamToGrid, AveragesBlocksWhenShrinkingInterpolatesWhenGrowing) {
  const auto cam = torch::arange(16, torch::kFloat).view({4, 4});
  // 2x2 blocks: mean of {0,1,4,5} = 2.5, {2,3,6,7} = 4.5, {8,9,12,13} = 10.5, {10,11,14,15} = 12.5.
  EXPECT_TRUE(torch::allclose(cam_to_grid(cam, 2, 2), torch::tensor({2.5f, 4.5f, 10.5f, 12.5f}).view({2, 2})));
  const auto up = cam_to_grid(cam, 8, 8);
  EXPECT_EQ(up.sizes(), (std::vector<int64_t>{8, 8}));
  EXPECT_FLOAT_EQ(up[0][0].item<float>(), 0.f);  // align_corners=false: the corner keeps the corner value
}

TEST(Candidates, HighestFgLowestBgOutsideOtsu) {
  const auto cam = bimodal_cam(64, 64, 11);
  CandidateOptions o;
  o.grid_h = o.grid_w = 16;
  o.n_pos = 20;
  o.n_neg = 30;
  const auto c = candidate_cells(cam, o);
  const auto grid = cam_to_grid(cam, 16, 16).flatten();
  ASSERT_EQ(c.fg.numel(), 20);
  ASSERT_EQ(c.bg.numel(), 30);
  EXPECT_DOUBLE_EQ(c.otsu, otsu_threshold(cam_to_grid(cam, 16, 16)));
  const auto fg_vals = grid.index_select(0, c.fg), bg_vals = grid.index_select(0, c.bg);
  // FG: the 20 highest cells, highest first.
  EXPECT_TRUE(torch::equal(fg_vals, std::get<0>(grid.sort(0, true)).slice(0, 0, 20)));
  // BG: below the Otsu threshold, and the lowest cells there, lowest first.
  EXPECT_TRUE((bg_vals <= c.otsu).all().item<bool>());
  EXPECT_TRUE(torch::equal(bg_vals, std::get<0>(grid.sort()).slice(0, 0, 30)));
  // The object rectangle (rows 16..31, cols 21..47 of the CAM) holds the FG cells.
  for (int64_t p : std::vector<int64_t>(c.fg.data_ptr<int64_t>(), c.fg.data_ptr<int64_t>() + 20)) {
    EXPECT_GE(p / 16, 4);
    EXPECT_LT(p / 16, 8);
  }
}

TEST(Candidates, MoreFgThanOtsuFgStaysDisjointAndFullGridIsAnError) {
  auto cam = torch::zeros({8, 8});
  cam.slice(0, 0, 2) = 1.0;  // Otsu FG = 16 cells
  CandidateOptions o;
  o.grid_h = o.grid_w = 8;
  o.n_pos = 40;  // more than the Otsu FG: FG candidates reach into the Otsu BG
  o.n_neg = 64;
  const auto c = candidate_cells(cam, o);
  EXPECT_EQ(c.fg.numel(), 40);
  EXPECT_EQ(c.bg.numel(), 24);
  std::set<int64_t> fg(c.fg.data_ptr<int64_t>(), c.fg.data_ptr<int64_t>() + c.fg.numel());
  for (int64_t i = 0; i < c.bg.numel(); ++i) EXPECT_EQ(fg.count(c.bg[i].item<int64_t>()), 0u);
  o.n_pos = 64;
  EXPECT_THROW(candidate_cells(cam, o), tedloc::InputError);
}

TEST(Sampler, BalancedFromTheCandidatesAndDeterministic) {
  Candidates a{torch::arange(0, 10, torch::kLong), torch::arange(50, 70, torch::kLong), 0.5};
  Candidates b{torch::tensor({3L, 4L}), torch::arange(80, 100, torch::kLong), 0.5};  // 2 FG < s: with replacement
  auto gen = at::detail::createCPUGenerator(42);
  const auto s1 = sample_cells({a, b}, 5, gen);
  ASSERT_EQ(s1.fg.sizes(), (std::vector<int64_t>{2, 5}));
  ASSERT_EQ(s1.bg.sizes(), (std::vector<int64_t>{2, 5}));
  // Image 0: 5 distinct FG in [0, 10) and 5 distinct BG in [50, 70).
  EXPECT_EQ(std::get<0>(torch::_unique(s1.fg[0])).numel(), 5);
  EXPECT_TRUE(((s1.fg[0] >= 0) & (s1.fg[0] < 10)).all().item<bool>());
  EXPECT_EQ(std::get<0>(torch::_unique(s1.bg[0])).numel(), 5);
  EXPECT_TRUE(((s1.bg[0] >= 50) & (s1.bg[0] < 70)).all().item<bool>());
  // Image 1: its 2 FG candidates repeated.
  EXPECT_TRUE(((s1.fg[1] == 3) | (s1.fg[1] == 4)).all().item<bool>());
  // Same seed, same draw; another seed, another draw.
  auto again = at::detail::createCPUGenerator(42);
  const auto s2 = sample_cells({a, b}, 5, again);
  EXPECT_TRUE(torch::equal(s1.fg, s2.fg) && torch::equal(s1.bg, s2.bg));
  auto other = at::detail::createCPUGenerator(43);
  const auto s3 = sample_cells({a, b}, 5, other);
  EXPECT_FALSE(torch::equal(s1.fg, s3.fg) && torch::equal(s1.bg, s3.bg));
}

TEST(Sampler, EveryCandidateEquallyLikely) {
  Candidates c{torch::arange(0, 10, torch::kLong), torch::arange(10, 20, torch::kLong), 0.5};
  auto gen = at::detail::createCPUGenerator(7);
  auto counts = torch::zeros({20}, torch::kLong);
  const int draws = 4000;
  for (int i = 0; i < draws; ++i) {
    const auto s = sample_cells({c}, 3, gen);
    counts.index_add_(0, s.fg.flatten(), torch::ones({3}, torch::kLong));
    counts.index_add_(0, s.bg.flatten(), torch::ones({3}, torch::kLong));
  }
  // Expected 4000 * 3 / 10 = 1200 per cell; binomial sd ~ 29, allow 6 sd.
  EXPECT_LT((counts - 1200).abs().max().item<int64_t>(), 175);
}

TEST(Sampler, BadInput) {
  auto gen = at::detail::createCPUGenerator(1);
  Candidates c{torch::arange(0, 4, torch::kLong), torch::arange(4, 8, torch::kLong), 0.5};
  EXPECT_THROW(sample_cells({c}, 0, gen), tedloc::InputError);
  EXPECT_THROW(sample_cells({}, 2, gen), tedloc::InputError);
  Candidates empty{torch::arange(0, 4, torch::kLong), torch::empty({0}, torch::kLong), 0.5};
  EXPECT_THROW(sample_cells({c, empty}, 2, gen), tedloc::InputError);
}
