#include "tedloc/clip/text_encoder.hpp"

#include <cctype>
#include <cstdint>

#include <torch/torch.h>

#include "tedloc/error.hpp"
#include "tedloc/eval/npy.hpp"

namespace tedloc::clip {
namespace {

// 64-bit FNV-1a: tiny, fixed constants, identical everywhere.
uint64_t fnv1a(const char* data, size_t size) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < size; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string fill_template(const std::string& templ, const std::string& name) {
  const auto at = templ.find("{}");
  if (at == std::string::npos)
    throw InputError(fmt::format("text encoder: prompt template \"{}\" has no \"{{}}\" for the class name", templ));
  return templ.substr(0, at) + name + templ.substr(at + 2);
}

}  // namespace

std::vector<std::string> default_prompt_templates() {
  return {"a photo of a {}.",       "a photo of the {}.",     "a picture of a {}.",
          "an image of a {}.",      "a close-up photo of a {}.", "a cropped photo of the {}.",
          "a bright photo of a {}.", "a dark photo of the {}."};
}

torch::Tensor ngram_prompt_embedding(const std::string& prompt, const NgramEncoderOptions& options) {
  if (options.dim < 1 || options.n_min < 1 || options.n_max < options.n_min)
    throw InputError(fmt::format("text encoder: bad options dim={} n_min={} n_max={}", options.dim, options.n_min,
                                 options.n_max));
  std::string text = " " + prompt + " ";  // word boundaries at both ends, like the spaces inside
  if (options.lowercase)
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<double> counts(static_cast<size_t>(options.dim), 0.0);
  for (int64_t n = options.n_min; n <= options.n_max; ++n)
    for (size_t i = 0; i + static_cast<size_t>(n) <= text.size(); ++i) {
      const uint64_t h = fnv1a(text.data() + i, static_cast<size_t>(n));
      counts[h % static_cast<uint64_t>(options.dim)] += (h >> 63) ? -1.0 : 1.0;
    }
  auto v = torch::tensor(counts, torch::kDouble);
  const double norm = v.norm().item<double>();
  if (norm > 0) v = v / norm;  // a prompt shorter than n_min has no n-gram: the zero vector
  return v.to(torch::kFloat);
}

torch::Tensor ngram_text_embeddings(const std::vector<std::string>& class_names,
                                    const std::vector<std::string>& templates, const NgramEncoderOptions& options) {
  if (class_names.empty()) throw InputError("text encoder: the class list is empty");
  if (templates.empty()) throw InputError("text encoder: no prompt template");
  std::vector<torch::Tensor> rows;
  rows.reserve(class_names.size());
  for (size_t k = 0; k < class_names.size(); ++k) {
    if (class_names[k].empty()) throw InputError(fmt::format("text encoder: class {} has an empty name", k));
    auto sum = torch::zeros({options.dim}, torch::kFloat);
    for (const auto& t : templates) sum += ngram_prompt_embedding(fill_template(t, class_names[k]), options);
    rows.push_back(sum / sum.norm().clamp_min(1e-12));
  }
  return torch::stack(rows);
}

torch::Tensor load_anchors_npy(const std::string& path) {
  const eval::NpyArray a = eval::read_npy(path);  // the one .npy parser: strict, names the file
  if (a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] < 1) {
    throw InputError(fmt::format("{}: anchors must be a 2-D array (K, d)", path));
  }
  if (a.dtype.size() < 2 || a.dtype[1] != 'f') {
    throw InputError(fmt::format("{}: anchors must be float32 or float64, not {}", path, a.dtype));
  }
  const auto t = torch::tensor(a.data, torch::kDouble)
                     .view({static_cast<int64_t>(a.shape[0]), static_cast<int64_t>(a.shape[1])})
                     .to(torch::kFloat);
  if (!torch::isfinite(t).all().item<bool>()) throw InputError(path + ": NaN or infinite anchor values");
  return t;
}

}  // namespace tedloc::clip
