#include "tedloc/method/text_encoder.hpp"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <regex>

#include <torch/torch.h>

#include "tedloc/error.hpp"

namespace tedloc::method {
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
  auto fail = [&](const std::string& why) { return InputError(fmt::format("{}: {}", path, why)); };
  std::ifstream in(path, std::ios::binary);
  if (!in) throw fail("cannot open the file");
  char magic[8] = {};
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw fail("not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t header_len = 0;
  unsigned char len_bytes[4] = {};
  const int len_size = major == 1 ? 2 : 4;
  if (major < 1 || major > 3) throw fail(fmt::format("unsupported .npy version {}", major));
  if (!in.read(reinterpret_cast<char*>(len_bytes), len_size)) throw fail("truncated header");
  for (int i = len_size - 1; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > (1u << 20)) throw fail("header too long");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw fail("truncated header");

  std::smatch m;
  if (!std::regex_search(header, m, std::regex(R"('descr'\s*:\s*'([<|=>]?)(f4|f8)')")))
    throw fail("anchors must be float32 or float64 ('descr' '<f4' or '<f8'), header: " + header);
  if (m[1] == ">") throw fail("big-endian arrays are not supported");
  const bool f64 = m[2] == "f8";
  const bool fortran = std::regex_search(header, std::regex(R"('fortran_order'\s*:\s*True)"));
  if (!std::regex_search(header, m, std::regex(R"('shape'\s*:\s*\(\s*(\d+)\s*,\s*(\d+)\s*,?\s*\))")))
    throw fail("anchors must be a 2-D array (K, d), header: " + header);
  const int64_t K = std::stoll(m[1]), d = std::stoll(m[2]);
  if (K < 1 || d < 1 || K > (1 << 24) || d > (1 << 24)) throw fail(fmt::format("bad shape ({}, {})", K, d));

  const int64_t count = K * d;
  auto t = torch::empty(fortran ? std::vector<int64_t>{d, K} : std::vector<int64_t>{K, d},
                        f64 ? torch::kDouble : torch::kFloat);
  const auto bytes = static_cast<std::streamsize>(count * (f64 ? 8 : 4));
  if (!in.read(static_cast<char*>(t.data_ptr()), bytes))
    throw fail(fmt::format("truncated data: expected {} bytes for shape ({}, {})", bytes, K, d));
  if (in.peek() != std::char_traits<char>::eof()) throw fail("trailing bytes after the array data");
  if (fortran) t = t.t();
  t = t.to(torch::kFloat).contiguous();
  if (!torch::isfinite(t).all().item<bool>()) throw fail("NaN or infinite anchor values");
  return t;
}

}  // namespace tedloc::method
