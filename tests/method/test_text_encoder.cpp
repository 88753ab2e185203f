// The built-in n-gram text encoder and the .npy anchor loader.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tedloc/error.hpp"
#include "python_oracle.hpp"
#include "tedloc/clip/text_encoder.hpp"

using namespace tedloc::clip;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kFashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace

TEST(NgramEncoder, HashIsFnv1aOnEveryPlatform) {
  // " a " with unigrams only: ' ' twice and 'a' once. FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (the published
  // test vector), of " " 0xaf639d4c8601817f: buckets mod 1000 are 996 and 703, both top bits 1 (sign -1).
  // Counts: v[703] = -2, v[996] = -1, L2 norm sqrt(5).
  NgramEncoderOptions o;
  o.dim = 1000;
  o.n_min = o.n_max = 1;
  const auto v = ngram_prompt_embedding("A", o);  // lowercased to "a"
  ASSERT_EQ(v.size(0), 1000);
  EXPECT_NEAR(v[703].item<double>(), -2 / std::sqrt(5.0), 1e-6);
  EXPECT_NEAR(v[996].item<double>(), -1 / std::sqrt(5.0), 1e-6);
  EXPECT_EQ(v.ne(0).sum().item<int64_t>(), 2);
}

TEST(NgramEncoder, UnitRowsDeterministicAndSimilarNamesOverlap) {
  const auto templates = default_prompt_templates();
  const auto T = ngram_text_embeddings(kFashion, templates);
  ASSERT_EQ(T.sizes(), (std::vector<int64_t>{10, 512}));
  EXPECT_LT((T.norm(2, 1) - 1).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(torch::equal(T, ngram_text_embeddings(kFashion, templates)));
  const auto cos = T.matmul(T.t());
  // "Shirt" (6) is closer to "T-shirt/top" (0) than to any class that shares no word with it.
  for (int64_t k : {1, 2, 3, 5, 8}) EXPECT_GT(cos[6][0].item<double>(), cos[6][k].item<double>()) << kFashion[k];
  // The shared template makes all classes correlate, as CLIP's embeddings do, but not coincide.
  EXPECT_GT(cos.triu(1).max().item<double>(), 0.3);
  EXPECT_LT(cos.triu(1).max().item<double>(), 0.99);
  // The ensemble is not one template's embedding.
  EXPECT_FALSE(torch::allclose(T, ngram_text_embeddings(kFashion, {"a photo of a {}."})));
}

TEST(NgramEncoder, BadInputIsRejected) {
  EXPECT_THROW(ngram_text_embeddings({}, {"a {}"}), tedloc::InputError);
  EXPECT_THROW(ngram_text_embeddings({"cat", ""}, {"a {}"}), tedloc::InputError);
  EXPECT_THROW(ngram_text_embeddings({"cat"}, {"a photo"}), tedloc::InputError);
  NgramEncoderOptions o;
  o.n_min = 3;
  o.n_max = 2;
  EXPECT_THROW(ngram_text_embeddings({"cat"}, {"a {}"}, o), tedloc::InputError);
}

namespace {

// A .npy file as NumPy writes it: magic, version, little-endian header length, the dict padded with spaces
// and ending in '\n' so that the data starts on a 64-byte boundary, then the raw data.
fs::path write_npy(const std::string& name, const std::string& dict, const std::string& data, int version = 1) {
  const fs::path path = fs::temp_directory_path() / fmt::format("tedloc_test_method_{}_{}.npy", ::getpid(), name);
  const size_t prefix = 8 + (version == 1 ? 2 : 4);
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string bytes = std::string("\x93NUMPY", 6) + char(version) + char(0);
  const uint32_t len = static_cast<uint32_t>(header.size());
  for (size_t i = 0; i < prefix - 8; ++i) bytes += char((len >> (8 * i)) & 0xff);
  std::ofstream(path, std::ios::binary) << bytes << header << data;
  return path;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

TEST(NpyAnchors, ReadsFloat32AndFloat64FortranOrder) {
  const auto f32 = write_npy("f32", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                             raw<float>({1, 2, 3, 4, 5, 6}));
  const auto a = load_anchors_npy(f32.string());
  EXPECT_TRUE(torch::equal(a, torch::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).view({2, 3})));
  // Fortran order stores columns first: the same 2 x 3 matrix.
  const auto f64 = write_npy("f64", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                             raw<double>({1, 4, 2, 5, 3, 6}), 2);
  const auto b = load_anchors_npy(f64.string());
  EXPECT_EQ(b.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(b, a));
  // Big-endian data (numpy's '>f4') is byte-swapped on read.
  std::string swapped = raw<float>({1, 2, 3, 4, 5, 6});
  for (size_t i = 0; i < swapped.size(); i += 4) std::reverse(swapped.begin() + i, swapped.begin() + i + 4);
  const auto big = write_npy("big", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", swapped);
  EXPECT_TRUE(torch::equal(load_anchors_npy(big.string()), a));
  fs::remove(f32);
  fs::remove(f64);
  fs::remove(big);
}

TEST(NpyAnchors, ReadsWhatNumpyWrites) {
  if (!tedloc::test::python_has("numpy")) GTEST_SKIP() << "python3-numpy is not installed";
  const auto base = fs::temp_directory_path() / fmt::format("tedloc_test_method_{}_np", ::getpid());
  ASSERT_EQ(tedloc::test::run_python(fmt::format(R"(
import numpy as np
a = np.arange(15, dtype=np.float64).reshape(3, 5) / 7
np.save("{0}_c64.npy", a)
np.save("{0}_f32.npy", np.asfortranarray(a.astype(np.float32)))
)", base.string())), 0);
  const auto expected = torch::arange(15, torch::kDouble).view({3, 5}).div(7).to(torch::kFloat);
  for (const char* suffix : {"_c64.npy", "_f32.npy"}) {
    const auto path = base.string() + suffix;
    EXPECT_TRUE(torch::equal(load_anchors_npy(path), expected)) << path;
    fs::remove(path);
  }
}

TEST(NpyAnchors, MalformedFilesAreErrorsNamingTheFile) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const std::vector<std::pair<std::string, fs::path>> bad = {
      {"int", write_npy("int", "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", raw<int>({1, 2, 3, 4, 5, 6}))},
      {"3d", write_npy("3d", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", raw<float>({1, 2, 3, 4, 5, 6}))},
      {"short", write_npy("short", ok_dict, raw<float>({1, 2, 3, 4, 5}))},
      {"long", write_npy("long", ok_dict, raw<float>({1, 2, 3, 4, 5, 6, 7}))},
      {"nan", write_npy("nan", ok_dict, raw<float>({1, 2, 3, 4, 5, NAN}))},
      {"1d", write_npy("1d", "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", raw<float>({1, 2, 3, 4, 5, 6}))},
      {"empty", write_npy("empty", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", "")},
  };
  for (const auto& [what, path] : bad) {
    try {
      load_anchors_npy(path.string());
      ADD_FAILURE() << what << " was accepted";
    } catch (const tedloc::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    }
    fs::remove(path);
  }
  const fs::path junk = fs::temp_directory_path() / fmt::format("tedloc_test_method_{}_junk.npy", ::getpid());
  std::ofstream(junk, std::ios::binary) << "not numpy at all";
  EXPECT_THROW(load_anchors_npy(junk.string()), tedloc::InputError);
  fs::remove(junk);
  EXPECT_THROW(load_anchors_npy("/nonexistent/anchors.npy"), tedloc::InputError);
}
