#pragma once
// Text anchors without CLIP: the built-in encoder of the embedded default, and anchors computed elsewhere.
#include <string>
#include <vector>

#include <torch/types.h>

namespace tedloc::clip {

struct NgramEncoderOptions {
  int64_t dim = 512;     // embedding width d
  int64_t n_min = 2;     // shortest n-gram
  int64_t n_max = 4;     // longest n-gram
  bool lowercase = true; // ASCII case folding: "Shirt" and "T-shirt/top" share "shirt"
};

// CLIP-like prompt templates for the zero-shot ensemble, each with one "{}" for the class name.
std::vector<std::string> default_prompt_templates();

// One prompt's embedding: every byte n-gram (n_min..n_max; bytes = characters for ASCII names) of
// " prompt " is hashed with 64-bit FNV-1a (same result on every platform, unlike std::hash) into one of
// `dim` buckets, with a sign taken from the hash's top bit so that collisions cancel on average
// (signed feature hashing); the count vector is L2-normalised. Returns a float32 vector of `dim`.
torch::Tensor ngram_prompt_embedding(const std::string& prompt, const NgramEncoderOptions& options = {});

// K x dim float32 text embeddings, as CLIP's zero-shot ensemble builds them: for each class, the
// embeddings of every template filled with the class name, averaged, then L2-normalised.
// Deterministic. Similar names overlap (shared n-grams), and all prompts share the template's n-grams,
// so the anchors are correlated the way CLIP's are: what the qr/lowdin transforms are for.
// Throws InputError for an empty class list or name, a template without "{}", or a bad option.
torch::Tensor ngram_text_embeddings(const std::vector<std::string>& class_names,
                                    const std::vector<std::string>& templates,
                                    const NgramEncoderOptions& options = {});

// K x d anchors computed elsewhere, from a NumPy .npy file: a 2-D little-endian float32 or float64 array
// (C or Fortran order). Returns float32. Throws InputError naming the file and the reason otherwise.
torch::Tensor load_anchors_npy(const std::string& path);

}  // namespace tedloc::clip
