#pragma once
// The class text embeddings a run's anchors come from (built-in n-gram encoder, CLIP's text tower, or a file).
#include <string>
#include <vector>

#include <torch/types.h>

#include "tedloc/params.hpp"

namespace tedloc::method {

// K x d class text embeddings, rows L2-normalised: text.encoder "ngram" (built in, text.dim),
// "clip" (CLIP's text tower of text.weights, BPE vocabulary text.vocab, prompt ensemble over
// text.templates) or "file" (text.file: .npy or .safetensors with one K x d tensor).
torch::Tensor class_text_embeddings(const Params& params, const std::vector<std::string>& class_names);

// The declared parameters of the text.* group.
std::vector<ParamDecl> text_params();

}  // namespace tedloc::method
