#include "tedloc/method/class_text.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <torch/torch.h>

#include "tedloc/clip/clip_model.hpp"
#include "tedloc/clip/safetensors.hpp"
#include "tedloc/clip/text_encoder.hpp"
#include "tedloc/clip/zero_shot.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/text/clip_tokenizer.hpp"

namespace tedloc::method {
namespace fs = std::filesystem;

torch::Tensor class_text_embeddings(const Params& p, const std::vector<std::string>& names) {
  const std::string kind = p.get<std::string>("text.encoder");
  auto templates = p.get<std::vector<std::string>>("text.templates");
  if (templates.empty()) templates = clip::default_prompt_templates();
  torch::Tensor t;
  if (kind == "ngram") {
    clip::NgramEncoderOptions o;
    o.dim = p.get<int64_t>("text.dim");
    t = clip::ngram_text_embeddings(names, templates, o);
  } else if (kind == "clip") {
    const std::string vocab = p.get<std::string>("text.vocab");
    std::string weights = p.get<std::string>("text.weights");
    if (weights.empty()) weights = p.get<std::string>("encoder.weights");
    if (vocab.empty()) throw InputError("text.vocab: the CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz) is required");
    const text::ClipTokenizer tokenizer(vocab);
    clip::CLIP model = clip::load_clip(weights);
    model->eval();
    auto ids = torch::zeros({static_cast<int64_t>(names.size()), static_cast<int64_t>(templates.size()), 77}, torch::kLong);
    for (std::size_t k = 0; k < names.size(); ++k) {
      for (std::size_t j = 0; j < templates.size(); ++j) {
        std::string prompt = templates[j];
        const auto at = prompt.find("{}");
        if (at == std::string::npos) throw InputError("text.templates: \"" + templates[j] + "\" has no {}");
        prompt.replace(at, 2, names[k]);
        const auto tokens = tokenizer.tokenize(prompt);
        ids[k][j] = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), torch::kLong);
      }
    }
    torch::NoGradGuard no_grad;
    t = clip::zeroshot_weights(model, ids);
  } else {
    const std::string file = p.get<std::string>("text.file");
    if (file.size() > 4 && file.substr(file.size() - 4) == ".npy") {
      t = clip::load_anchors_npy(file);
    } else {
      const auto st = clip::read_safetensors(file);
      if (st.tensors.size() != 1) throw InputError(file + ": expected exactly one K x d tensor");
      t = st.tensors.begin()->second;
    }
    if (t.dim() != 2 || t.size(0) != static_cast<int64_t>(names.size())) {
      throw InputError(fmt::format("{}: shape {}, expected [{}, d] (one row per class)", file, c10::str(t.sizes()),
                                   names.size()));
    }
  }
  return torch::nn::functional::normalize(t.to(torch::kFloat), torch::nn::functional::NormalizeFuncOptions().dim(1));
}

std::vector<ParamDecl> text_params() {
  return {
      {"text.encoder", ParamType::String, "ngram", "class text embeddings", false, {"ngram", "clip", "file"}},
      ParamDecl{"text.dim", ParamType::Int, 512, "ngram: embedding width"}.within(1, 65536),
      {"text.templates", ParamType::StringList, nlohmann::json::array(), "prompt templates with {} (empty: built-in)"},
      {"text.vocab", ParamType::File, "", "clip: bpe_simple_vocab_16e6.txt.gz"},
      {"text.weights", ParamType::File, "", "clip: checkpoint of the text tower (default encoder.weights)"},
      {"text.file", ParamType::File, "", "file: K x d embeddings (.npy or .safetensors)"},
  };
}

}  // namespace tedloc::method
