// Native CLIP against /work/shared/golden/clip (a tiny random CLIP and the reference implementations'
// outputs), the safetensors reader's validation, and the TorchScript (.pt) and f16/bf16 loading paths.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include "tedloc/commands/clip_command.hpp"
#include "tedloc/clip/clip_dense.hpp"
#include "tedloc/clip/clip_model.hpp"
#include "tedloc/clip/safetensors.hpp"
#include "tedloc/error.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using namespace tedloc;
using namespace tedloc::clip;

namespace {

fs::path golden_dir() { return tedloc::testing::shared_dir() / "golden" / "clip"; }
std::string golden(const std::string& file) { return (golden_dir() / file).string(); }

// Absolute tolerance per output. The README measured float32 reference vs a float64 re-implementation
// at <= 2.8e-6 and expects another float32 summation order within ~1e-5 of O(1) outputs: 2e-5 leaves
// a 2x margin over that. clip_es_gradcam is raw / max(raw) twice, max(raw) = 0.0244, so an absolute
// error e of raw (~1e-7, same 1e-5 relative) becomes ~e / 0.0244 ~ 4e-6 plus the error of the divisor
// itself over the whole [0, 1] range: 1e-4 keeps the same relative margin. The raw map and the
// probabilities are O(0.01-0.3), so 2e-6 is the same ~1e-5 relative bound.
double tolerance(const std::string& key) {
  if (key == "clip_es_gradcam") return 1e-4;
  if (key == "clip_es_gradcam_raw") return 2e-6;
  return 2e-5;
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& key, double tol) {
  ASSERT_TRUE(actual.defined()) << key;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << key;
  const double diff = max_abs_diff(actual, expected);
  EXPECT_LE(diff, tol) << key;
  std::cout << "  " << key << ": max abs diff " << diff << " (tolerance " << tol << ")\n";
}

// A fresh folder per test, removed afterwards.
class ClipFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    TEDLOC_NEED_SHARED("golden/clip");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("tedloc_clip_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// Runs `expr`, expects an InputError whose message contains every given fragment.
template <typename F>
void expect_input_error(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "no InputError thrown";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "multi-line message: " << what;
    for (const auto& fragment : fragments) EXPECT_NE(what.find(fragment), std::string::npos) << what << " lacks '" << fragment << "'";
  }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// The outputs that take a model and the golden inputs directly (for the .pt and f16 checks).
TensorMap core_outputs(CLIP& model) {
  const auto inputs = read_safetensors(golden("inputs.safetensors")).tensors;
  torch::NoGradGuard no_grad;
  return {{"image_features", model->encode_image(inputs.at("images"))},
          {"text_features", model->encode_text(inputs.at("token_ids"))},
          {"patch_tokens", model->visual->patch_tokens(inputs.at("images"))},
          {"logits_per_image", model->forward(inputs.at("images"), inputs.at("token_ids"))}};
}

}  // namespace

// ------------------------------------------------------------------------------------------- goldens

TEST_F(ClipFiles, ForwardCommandMatchesEveryGoldenKey) {
  const auto expected = read_safetensors(golden("expected.safetensors")).tensors;
  ASSERT_EQ(clip_forward_command({"--weights", golden("weights.safetensors"), "--inputs", golden("inputs.safetensors"),
                                  "--out", path("out.safetensors"), "--threads", "2"}),
            kExitOk);
  ASSERT_EQ(clip_forward_command({"--weights", golden("weights.safetensors"), "--inputs", golden("inputs.safetensors"),
                                  "--out", path("std1.safetensors"), "--naclip-std", "1"}),
            kExitOk);
  auto outputs = read_safetensors(path("out.safetensors")).tensors;
  outputs["naclip_patch_tokens_std1"] = read_safetensors(path("std1.safetensors")).tensors.at("naclip_patch_tokens");

  std::set<std::string> expected_keys, output_keys;
  for (const auto& [k, v] : expected) expected_keys.insert(k);
  for (const auto& [k, v] : outputs) output_keys.insert(k);
  EXPECT_EQ(output_keys, expected_keys);
  for (const auto& [key, value] : expected)
    if (outputs.count(key)) expect_close(outputs.at(key), value, key, tolerance(key));
}

TEST(Clip, ConfigurationInferredFromShapesAndMetadata) {
  TEDLOC_NEED_SHARED("golden/clip");
  const auto ckpt = read_safetensors(golden("weights.safetensors"));
  EXPECT_EQ(ckpt.metadata.at("vision_heads"), "2");
  EXPECT_EQ(ckpt.metadata.at("text_heads"), "2");
  EXPECT_EQ(ckpt.tensors.count("__metadata__"), 0u);
  const auto c = infer_clip_config(ckpt, {}, "weights");
  EXPECT_EQ(c.vision.width(), 128);
  EXPECT_EQ(c.vision.layers(), 2);
  EXPECT_EQ(c.vision.heads(), 2);
  EXPECT_EQ(c.vision.patch_size(), 16);
  EXPECT_EQ(c.vision.grid(), 4);
  EXPECT_EQ(c.vision.output_dim(), 32);
  EXPECT_EQ(c.text.width(), 32);
  EXPECT_EQ(c.text.layers(), 2);
  EXPECT_EQ(c.text.heads(), 2);
  EXPECT_EQ(c.text.context_length(), 77);
  EXPECT_EQ(c.text.vocab_size(), 49408);
}

TEST(Clip, BatchedGradCamEqualsOneImageAtATime) {
  TEDLOC_NEED_SHARED("golden/clip");
  auto model = load_clip(golden("weights.safetensors"));
  const auto inputs = read_safetensors(golden("inputs.safetensors")).tensors;
  const auto& images = inputs.at("images");
  torch::Tensor texts;
  {
    torch::NoGradGuard no_grad;
    texts = model->encode_text(inputs.at("token_ids"));
  }
  const auto batch = clip_es_gradcam(model, images, texts, torch::tensor({0, 3, 1}));
  ASSERT_EQ(batch.cam.sizes(), (std::vector<int64_t>{3, 4, 4}));
  const int64_t targets[] = {0, 3, 1};
  for (int64_t n = 0; n < 3; ++n) {
    const auto one = clip_es_gradcam(model, images.slice(0, n, n + 1), texts, torch::tensor({targets[n]}));
    // A batch of 3 and a batch of 1 take different GEMM blockings (OpenBLAS, several threads), so float32
    // sums differ in their last bits; probabilities in [0, 1] then differ by a few ulp of 1.0 (1.19e-7).
    EXPECT_LE(max_abs_diff(batch.raw[n], one.raw[0]), 1e-6);
    EXPECT_LE(max_abs_diff(batch.probs[n], one.probs[0]), 1e-6);
  }
}

TEST(Clip, DenseClassMapsAreCosinesOnTheGrid) {
  TEDLOC_NEED_SHARED("golden/clip");
  auto model = load_clip(golden("weights.safetensors"));
  const auto inputs = read_safetensors(golden("inputs.safetensors")).tensors;
  torch::NoGradGuard no_grad;
  const auto tokens = naclip_patch_tokens(model->visual, inputs.at("images"));
  const auto texts = model->encode_text(inputs.at("token_ids"));
  const auto maps = dense_class_maps(tokens, texts, 4, 4);
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{3, 5, 4, 4}));
  // image 2, class 4, row 1, column 3 = patch 1 * 4 + 3
  const auto p = tokens[2][7], t = texts[4];
  EXPECT_NEAR(maps[2][4][1][3].item<double>(), (p.dot(t) / p.norm() / t.norm()).item<double>(), 1e-6);
}

// ------------------------------------------------------------------------------ weights in other forms

TEST_F(ClipFiles, TorchScriptArchiveLoadsLikeOpenAIs) {
  // The archive is written by Debian's python3-torch (torch.jit.script + torch.jit.save) from the golden
  // weights, laid out like OpenAI's .pt files (see the script).
  const std::string script = std::string(TEDLOC_SOURCE_DIR) + "/tests/clip/make_torchscript_clip.py";
  const std::string command = std::string(TEDLOC_TORCH_PYTHON) + " " + script + " " + golden("weights.safetensors") + " " + path("clip.pt");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  const auto ckpt = load_checkpoint(path("clip.pt"));
  EXPECT_EQ(ckpt.tensors.size(), read_safetensors(golden("weights.safetensors")).tensors.size());
  EXPECT_EQ(ckpt.tensors.count("input_resolution"), 0u);
  EXPECT_EQ(ckpt.tensors.count("transformer.resblocks.0.attn_mask"), 0u);
  // No metadata in OpenAI archives: width 32 / 64 = 0 text heads is refused, naming the key.
  expect_input_error([&] { load_clip(path("clip.pt")); }, {"clip.pt", "text_heads", "width 32"});

  auto model = load_clip(path("clip.pt"), {0, 2});
  const auto expected = read_safetensors(golden("expected.safetensors")).tensors;
  for (const auto& [key, value] : core_outputs(model)) expect_close(value, expected.at(key), key, tolerance(key));
}

TEST_F(ClipFiles, HalfPrecisionSafetensorsLoadAsFloat32) {
  const auto ckpt = read_safetensors(golden("weights.safetensors"));
  for (const auto dtype : {torch::kFloat16, torch::kBFloat16}) {
    TensorMap low, rounded;
    for (const auto& [name, t] : ckpt.tensors) {
      low[name] = t.to(dtype);
      rounded[name] = t.to(dtype).to(torch::kFloat);
    }
    write_safetensors(path("low.safetensors"), low, ckpt.metadata);
    const auto reread = read_safetensors(path("low.safetensors"));
    EXPECT_EQ(reread.tensors.at("visual.proj").scalar_type(), dtype);

    auto from_file = load_clip(path("low.safetensors"));
    CLIP reference(infer_clip_config(ckpt, {}, "golden"));
    load_clip_weights(reference, rounded, "in memory");
    for (const auto& p : from_file->named_parameters()) {
      EXPECT_EQ(p.value().scalar_type(), torch::kFloat) << p.key();
      EXPECT_TRUE(torch::equal(p.value(), rounded.at(p.key()))) << p.key();
    }
    const auto a = core_outputs(from_file), b = core_outputs(reference);
    for (const auto& [key, value] : a) EXPECT_TRUE(torch::equal(value, b.at(key))) << key;
  }
}

// --------------------------------------------------------------------------------------- bad weights

TEST_F(ClipFiles, MissingMisshapedOrUnexpectedTensorIsNamed) {
  const auto ckpt = read_safetensors(golden("weights.safetensors"));
  auto missing = ckpt.tensors;
  missing.erase("visual.transformer.resblocks.1.ln_2.bias");
  write_safetensors(path("missing.safetensors"), missing, ckpt.metadata);
  expect_input_error([&] { load_clip(path("missing.safetensors")); },
                     {"missing.safetensors", "'visual.transformer.resblocks.1.ln_2.bias'", "missing"});

  auto shaped = ckpt.tensors;
  shaped["transformer.resblocks.0.mlp.c_fc.weight"] = torch::zeros({127, 32});
  write_safetensors(path("shape.safetensors"), shaped, ckpt.metadata);
  expect_input_error([&] { load_clip(path("shape.safetensors")); },
                     {"shape.safetensors", "'transformer.resblocks.0.mlp.c_fc.weight'", "[127, 32]", "[128, 32]"});

  auto config_tensor = ckpt.tensors;
  config_tensor.erase("visual.conv1.weight");
  write_safetensors(path("noconv.safetensors"), config_tensor, ckpt.metadata);
  expect_input_error([&] { load_clip(path("noconv.safetensors")); }, {"noconv.safetensors", "'visual.conv1.weight'", "missing"});

  auto extra = ckpt.tensors;
  extra["visual.attnpool.k_proj.weight"] = torch::zeros({2});
  write_safetensors(path("extra.safetensors"), extra, ckpt.metadata);
  expect_input_error([&] { load_clip(path("extra.safetensors")); }, {"extra.safetensors", "'visual.attnpool.k_proj.weight'", "unexpected"});
}

TEST_F(ClipFiles, CorruptSafetensorsAreRejectedWithTheirName) {
  const std::string bytes = read_bytes(golden("inputs.safetensors"));
  const std::string name = "bad.safetensors";

  write_bytes(path(name), bytes.substr(0, bytes.size() - 100));
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "outside the data section"});

  write_bytes(path(name), bytes + "xxxxxxxx");
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "cover"});

  write_bytes(path(name), bytes.substr(0, 5));
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "too short"});

  std::string huge = bytes;
  huge[7] = '\x7f';  // header length near 2^63
  write_bytes(path(name), huge);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "header length"});

  std::string not_json = bytes;
  not_json[8] = '[';
  not_json[9] = '}';
  write_bytes(path(name), not_json);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "not valid JSON"});

  // Hand-written headers: the tensor is named.
  auto with_header = [&](const std::string& json, std::size_t data_bytes) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
    write_bytes(path(name), out + json + std::string(data_bytes, '\0'));
  };
  with_header(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "'w'", "24"});
  with_header(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})", 2);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "'w'", "Q4"});
  with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "'w'", "shape"});
  with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "overlap"});
  with_header(R"({"__metadata__":{"n":3}})", 0);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "__metadata__"});
  // Found by fuzz_spec in the same JSON parser: a number beyond double escaped as nlohmann's out_of_range.
  with_header(R"({"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,0]}})", 0);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "number overflow"});
  // Found writing the fuzz targets: a dimension above 2^63 next to a 0 passed (0 elements) and became a negative
  // dimension for LibTorch (c10::Error, not InputError).
  with_header(R"({"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})", 0);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "'w'", "too large"});
  // Found writing the fuzz targets: the error message dumped a million-deep "shape" recursively (stack overflow).
  const std::size_t deep = 1'000'000;
  with_header(R"({"w":{"dtype":"F32","shape":)" + std::string(deep, '[') + std::string(deep, ']') +
                  R"(,"data_offsets":[0,0]}})", 0);
  expect_input_error([&] { read_safetensors(path(name)); }, {name, "nested deeper than 64"});

  // The command maps the error to its exit code.
  EXPECT_EQ(clip_forward_command({"--weights", path(name), "--inputs", golden("inputs.safetensors"), "--out", path("o.safetensors")}),
            kExitBadInput);
  EXPECT_EQ(clip_forward_command({"--weights", golden("weights.safetensors")}), kExitUsage);
}

TEST_F(ClipFiles, SafetensorsRoundTrip) {
  const auto in = read_safetensors(golden("inputs.safetensors"));
  write_safetensors(path("copy.safetensors"), in.tensors, {{"k", "v"}});
  const std::string bytes = read_bytes(path("copy.safetensors"));
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header % 8, 0u);
  const auto back = read_safetensors(path("copy.safetensors"));
  EXPECT_EQ(back.metadata.at("k"), "v");
  ASSERT_EQ(back.tensors.size(), in.tensors.size());
  for (const auto& [k, v] : in.tensors) {
    EXPECT_EQ(back.tensors.at(k).scalar_type(), v.scalar_type()) << k;
    EXPECT_TRUE(torch::equal(back.tensors.at(k), v)) << k;
  }
}

TEST(Clip, FusedInferenceAttentionEqualsTheExplicitOne) {
  TEDLOC_NEED_SHARED("golden/clip");
  // Without gradients the attention takes PyTorch's fused kernel; with them, the explicit softmax(q k^T) v.
  auto model = load_clip(golden("weights.safetensors"));
  const auto images = read_safetensors(golden("inputs.safetensors")).tensors.at("images");
  const auto explicit_path = model->encode_image(images).detach();
  torch::NoGradGuard no_grad;
  const double diff = max_abs_diff(model->encode_image(images), explicit_path);
  std::cout << "  fused vs explicit attention: max abs diff " << diff << "\n";
  EXPECT_LE(diff, 2e-5);
}
