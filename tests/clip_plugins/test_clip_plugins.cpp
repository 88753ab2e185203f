// The CLIP plugins (plugins/clip_baselines, plugins/clip_cams), loaded through the host from the build's
// plugin folder, against the golden tiny CLIP (shared/golden/clip); and the mini-CLIP trainer.
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tedloc/clip/clip_model.hpp"
#include "tedloc/clip/mini_clip.hpp"
#include "tedloc/clip/safetensors.hpp"
#include "tedloc/data/fashion_wsol.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/host.hpp"
#include "tedloc/plugin/baseline.hpp"
#include "tedloc/plugin/cam_source.hpp"
#include "tedloc/tasks.hpp"
#include "test_support.hpp"

namespace tedloc {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string golden(const std::string& file) { return (testing::shared_dir() / "golden" / "clip" / file).string(); }

// Runs f, expects an InputError whose one-line message contains `fragment`.
template <class F>
void expect_input_error(F&& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no InputError (expected one naming '" << fragment << "')";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

class ClipPlugins : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::missing_shared("golden/clip").empty()) return;  // SetUp skips each test
    inputs_ = new clip::TensorMap(clip::read_safetensors(golden("inputs.safetensors")).tensors);
    expected_ = new clip::TensorMap(clip::read_safetensors(golden("expected.safetensors")).tensors);
  }
  static void TearDownTestSuite() {
    delete inputs_;
    delete expected_;
  }
  void SetUp() override {
    TEDLOC_NEED_SHARED("golden/clip");
    host.scan(std::string(TEDLOC_BUILD_DIR) + "/plugins");
    ASSERT_TRUE(host.errors().empty()) << host.errors().front();
    // The golden text features stand in for a task's class embeddings: K = 5 classes.
    const auto text = expected("text_features");
    context.class_embeddings = text / text.norm(2, -1, true);
  }
  static torch::Tensor input(const std::string& key) { return inputs_->at(key); }
  static torch::Tensor expected(const std::string& key) { return expected_->at(key); }

  template <class T>
  std::shared_ptr<T> make(const std::string& name, const nlohmann::json& params, const PluginContext& ctx) {
    std::vector<std::string> errors;
    auto resolved = host.resolve_plugin_ref(T::kKind, {{"plugin", name}, {"params", params}}, "/p", errors);
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front());
    return host.make<T>(name, resolved["params"], ctx);
  }

  // The reference map of image n and class c: cos(golden patch token, class embedding) on the 4 x 4 grid.
  torch::Tensor reference_map(const torch::Tensor& tokens, int64_t n, int64_t c) const {
    auto p = tokens[n] / tokens[n].norm(2, -1, true);
    return p.matmul(context.class_embeddings[c]).view({4, 4});
  }

  PluginHost host{register_builtin_plugins};
  PluginContext context;
  static clip::TensorMap* inputs_;
  static clip::TensorMap* expected_;
};
clip::TensorMap* ClipPlugins::inputs_ = nullptr;
clip::TensorMap* ClipPlugins::expected_ = nullptr;

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

// Golden outputs are O(1) and a float32 re-implementation agrees within ~1e-5 (golden README); cosines of
// such tokens inherit that bound. clip_es_gradcam is divided by a small maximum: 1e-4, as in test_clip.
constexpr double kTol = 2e-5;
constexpr double kCamTol = 1e-4;

TEST_F(ClipPlugins, DenseVariantsAreCosinesOfTheGoldenPatchTokens) {
  const auto logits = expected("logits_per_image");  // cos is scale-free: same as with the normalised embeddings
  const auto predicted = logits.argmax(1);
  const auto labels = (predicted + 1) % 5;  // never the prediction: gt and pred maps must differ
  for (const auto& [variant, key] : std::vector<std::pair<std::string, std::string>>{
           {"vanilla", "patch_tokens"}, {"sclip", "sclip_patch_tokens"}, {"naclip", "naclip_patch_tokens"}}) {
    for (const std::string mode : {"gt", "pred"}) {
      auto baseline = make<Baseline>("clip_dense", {{"weights", golden("weights.safetensors")}, {"variant", variant}, {"mode", mode}},
                                     context);
      const BaselineOutput out = baseline->infer({input("images"), labels});
      ASSERT_EQ(out.maps.sizes(), (std::vector<int64_t>{3, 4, 4})) << variant;
      EXPECT_LE(max_abs_diff(out.class_scores, logits), kTol) << variant;
      const auto classes = mode == "gt" ? labels : predicted;
      for (int64_t n = 0; n < 3; ++n)
        EXPECT_LE(max_abs_diff(out.maps[n], reference_map(expected(key), n, classes[n].item<int64_t>())), kTol)
            << variant << " " << mode << " image " << n;
    }
  }
}

TEST_F(ClipPlugins, NaclipStdReachesTheFeatures) {
  auto baseline = make<Baseline>("clip_dense",
                                 {{"weights", golden("weights.safetensors")}, {"variant", "naclip"}, {"naclip_std", 1.0}}, context);
  const auto labels = torch::tensor({0, 1, 2}, torch::kLong);
  const BaselineOutput out = baseline->infer({input("images"), labels});
  for (int64_t n = 0; n < 3; ++n)
    EXPECT_LE(max_abs_diff(out.maps[n], reference_map(expected("naclip_patch_tokens_std1"), n, n)), kTol);
}

TEST_F(ClipPlugins, ClipEsBaselineAndCamSourceGiveTheGoldenGradCam) {
  const auto image0 = input("images").slice(0, 0, 1);
  const auto target0 = torch::zeros({1}, torch::kLong);
  auto baseline = make<Baseline>("clip_es", {{"weights", golden("weights.safetensors")}, {"mode", "gt"}}, context);
  const BaselineOutput out = baseline->infer({image0, target0});
  EXPECT_LE(max_abs_diff(out.maps[0], expected("clip_es_gradcam")), kCamTol);
  EXPECT_LE(max_abs_diff(out.class_scores, expected("logits_per_image").slice(0, 0, 1)), kTol);

  auto cams = make<CamSource>("clip_es", {{"weights", golden("weights.safetensors")}}, context);
  torch::Tensor map;
  {
    torch::NoGradGuard no_grad;  // callers run CAM sources without gradients; Grad-CAM must still work
    map = cams->cams({image0, target0, {"img0"}});
  }
  EXPECT_LE(max_abs_diff(map[0], expected("clip_es_gradcam")), kCamTol);
  EXPECT_GE(map.min().item<double>(), 0.0);
  EXPECT_LE(map.max().item<double>(), 1.0);
}

TEST_F(ClipPlugins, ClipEsPredModeMapsThePredictedClass) {
  const auto images = input("images");
  const auto predicted = expected("logits_per_image").argmax(1);
  const auto wrong = (predicted + 2) % 5;
  auto pred = make<Baseline>("clip_es", {{"weights", golden("weights.safetensors")}, {"mode", "pred"}}, context);
  auto cams = make<CamSource>("clip_es", {{"weights", golden("weights.safetensors")}}, context);
  const auto pred_maps = pred->infer({images, wrong}).maps;  // labels ignored in pred mode
  EXPECT_LE(max_abs_diff(pred_maps, cams->cams({images, predicted, {}})), 1e-6);
  EXPECT_GT(max_abs_diff(pred_maps, cams->cams({images, wrong, {}})), 1e-3);
}

TEST_F(ClipPlugins, ClassEmbeddingsMustExistAndFitTheModel) {
  const nlohmann::json params = {{"weights", golden("weights.safetensors")}};
  PluginContext none;
  expect_input_error([&] { make<Baseline>("clip_dense", params, none); }, "no class embeddings");
  PluginContext narrow;
  narrow.class_embeddings = torch::randn({5, 16});
  expect_input_error([&] { make<CamSource>("clip_es", params, narrow); }, "embedding width 32");
  expect_input_error([&] { make<Baseline>("clip_es", {{"weights", "/nonexistent/w.safetensors"}}, context); },
                     "/nonexistent/w.safetensors");
  auto gt = make<Baseline>("clip_dense", params, context);
  expect_input_error([&] { gt->infer({input("images"), torch::tensor({0, 7, 1}, torch::kLong)}); }, "mode gt needs labels");
}

TEST_F(ClipPlugins, NpyMapsReadsTheReferenceLayoutAndNamesAMissingFile) {
  TempDir dir;
  const std::vector<float> a = {0.f, 0.25f, 1.5f, -0.5f, 0.75f, 1.f};  // 2 x 3, two values outside [0, 1]
  const std::vector<float> b = {1.f, 0.5f, 0.f, 0.1f, 0.2f, 0.3f};
  eval::write_npy_f32(dir / "train/a.png.npy", a.data(), 2, 3);
  eval::write_npy_f32(dir / "train/b.png.npy", b.data(), 2, 3);
  auto cams = make<CamSource>("npy_maps", {{"dir", dir.path.string()}}, PluginContext{});
  const auto maps = cams->cams({torch::zeros({2, 3, 8, 8}), torch::zeros({2}, torch::kLong), {"train/a.png", "train/b.png"}});
  const auto expected_maps = torch::tensor({0.f, 0.25f, 1.f, 0.f, 0.75f, 1.f, 1.f, 0.5f, 0.f, 0.1f, 0.2f, 0.3f}).view({2, 2, 3});
  EXPECT_TRUE(torch::equal(maps, expected_maps)) << maps;
  expect_input_error([&] { cams->cams({torch::zeros({1, 3, 8, 8}), torch::zeros({1}, torch::kLong), {"train/c.png"}}); },
                     (dir.path / "train/c.png.npy").string());
}

// The mini-CLIP on a 40-image FashionWSOL at canvas 32: one epoch writes weights that load_clip reads like
// real ones, the same seed writes the same bytes, and a second run with the same options reuses the file.
TEST(MiniClip, TrainsSavesInOpenAiLayoutAndIsDeterministic) {
  TempDir dir;
  data::FashionWsolOptions data_options;
  data_options.out_dir = dir / "fashion";
  data_options.canvas = 32;
  data_options.train = 40;
  data_options.val = 20;
  data_options.test = 4;
  data_options.progress = false;
  data::generate_fashion_wsol(data_options);

  clip::MiniClipOptions o;
  o.data_dir = data_options.out_dir;
  o.out = dir / "a.safetensors";
  o.epochs = 1;
  o.batch = 16;
  o.width = 32;
  o.layers = 1;
  o.patch = 8;
  o.embed_dim = 16;
  o.seed = 3;
  o.progress = false;
  const clip::MiniClipResult first = clip::train_mini_clip(o);
  EXPECT_FALSE(first.reused);
  ASSERT_EQ(first.val_accuracy.size(), 1u);

  clip::CLIP model = clip::load_clip(o.out);
  EXPECT_EQ(model->config.vision.width(), 32);
  EXPECT_EQ(model->config.vision.grid(), 4);
  EXPECT_EQ(model->config.vision.output_dim(), 16);
  EXPECT_EQ(model->config.text.heads(), 2);
  {
    torch::NoGradGuard no_grad;
    auto logits = model->forward(torch::randn({2, 3, 32, 32}), torch::constant_pad_nd(torch::tensor({{49406, 320, 49407}}), {0, 74}));
    EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 1}));
    EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
    EXPECT_TRUE(torch::isfinite(model->visual->patch_tokens(torch::randn({1, 3, 32, 32}))).all().item<bool>());
  }

  const std::string bytes = testing::read_file(o.out);
  o.out = dir / "b.safetensors";
  clip::train_mini_clip(o);
  EXPECT_TRUE(testing::read_file(o.out) == bytes) << "same seed, different bytes";
  EXPECT_EQ(clip::train_mini_clip(o).reused, true);
  o.force = true;
  EXPECT_EQ(clip::train_mini_clip(o).reused, false);
  EXPECT_TRUE(testing::read_file(o.out) == bytes);

  // The CLI with the same options finds the file and says so.
  const std::string command = fmt::format(
      "{} clip train-mini --data {} --out {} --epochs 1 --batch 16 --width 32 --layers 1 --patch 8 --embed-dim 16 --seed 3 2>&1",
      testing::tedloc_exe(), o.data_dir, o.out);
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("reusing"), std::string::npos) << output;
}

}  // namespace
}  // namespace tedloc
