// Training-free CLIP localization baselines (the paper's Tables 1 and 4), scored by the evaluator like
// any method:
//   clip_dense  map = cos(patch token, t_c) of vanilla CLIP, SCLIP or NACLIP (tedloc/clip/clip_dense.hpp)
//   clip_es     map = CLIP-ES's Grad-CAM of class c (clip_es_gradcam; its header lists what is reproduced)
// Both give class_scores = zero-shot logits exp(s) cos(global image embedding, t_k) over the task's class
// embeddings t (PluginContext::class_embeddings: CLIP text features or the built-in n-gram encoder), and
// c = the true class (mode gt, "GT-known") or the zero-shot prediction (mode pred).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tedloc/clip/clip_dense.hpp>
#include <tedloc/clip/zero_shot.hpp>
#include <tedloc/error.hpp>
#include <tedloc/plugin/baseline.hpp>
#include <torch/torch.h>

namespace {

using tedloc::clip::ZeroShotClip;

// The class whose map is returned: the true label (GT-known) or the zero-shot prediction.
torch::Tensor map_classes(const std::string& mode, const torch::Tensor& labels, const torch::Tensor& logits) {
  if (mode == "pred") return logits.argmax(1);
  const int64_t n = logits.size(0), classes = logits.size(1);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != n ||
      (n > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= classes)))
    throw tedloc::InputError(fmt::format("mode gt needs labels [{}] in [0, {}), got {}", n, classes,
                                         labels.defined() ? c10::str(labels.sizes()) : "none"));
  return labels.to(logits.device(), torch::kLong);
}

// Params shared by both baselines.
std::vector<tedloc::ParamDecl> common_params() {
  return {{"weights", tedloc::ParamType::File, nullptr, "CLIP weights: .safetensors or OpenAI TorchScript .pt", true},
          {"mode", tedloc::ParamType::String, "gt", "map of the true class (gt) or of the zero-shot prediction (pred)", false,
           {"gt", "pred"}}};
}

struct ClipDense final : tedloc::Baseline {
  ZeroShotClip clip;
  std::string variant, mode;
  double naclip_std;

  ClipDense(const tedloc::Params& p, const tedloc::PluginContext& c)
      : clip(tedloc::clip::load_zero_shot_clip(p.get<std::string>("weights"), c.class_embeddings, c.device, "clip_dense")),
        variant(p.get<std::string>("variant")),
        mode(p.get<std::string>("mode")),
        naclip_std(p.get<double>("naclip_std")) {}

  torch::Tensor patch_tokens(const torch::Tensor& images) {
    auto& vit = clip.model->visual;
    if (variant == "sclip") return tedloc::clip::sclip_patch_tokens(vit, images);
    if (variant == "naclip") return tedloc::clip::naclip_patch_tokens(vit, images, naclip_std);
    return tedloc::clip::vanilla_patch_tokens(vit, images);
  }

  tedloc::BaselineOutput infer(const tedloc::BaselineRequest& request) override {
    torch::NoGradGuard no_grad;
    const auto images = request.images.to(clip.device, torch::kFloat);
    const auto [gh, gw] = clip.model->visual->grid_of(images);
    auto logits = tedloc::clip::zero_shot_logits(clip, images);
    auto classes = map_classes(mode, request.labels, logits);
    auto all_maps = tedloc::clip::dense_class_maps(patch_tokens(images), clip.class_embeddings, gh, gw);  // [B, K, gh, gw]
    auto maps = all_maps.index({torch::arange(images.size(0), classes.options()), classes});
    return {maps, logits};
  }
};

struct ClipEs final : tedloc::Baseline {
  ZeroShotClip clip;
  std::string mode;

  ClipEs(const tedloc::Params& p, const tedloc::PluginContext& c)
      : clip(tedloc::clip::load_zero_shot_clip(p.get<std::string>("weights"), c.class_embeddings, c.device, "clip_es")),
        mode(p.get<std::string>("mode")) {}

  tedloc::BaselineOutput infer(const tedloc::BaselineRequest& request) override {
    const auto images = request.images.to(clip.device, torch::kFloat);
    torch::Tensor logits;
    {
      torch::NoGradGuard no_grad;
      logits = tedloc::clip::zero_shot_logits(clip, images);
    }
    auto classes = map_classes(mode, request.labels, logits);
    auto cam = tedloc::clip::clip_es_gradcam(clip.model, images, clip.class_embeddings, classes);  // needs autograd
    return {cam.cam, logits};
  }
};

}  // namespace

TEDLOC_PLUGINS(registrar) {
  auto dense_params = common_params();
  dense_params.push_back({"variant", tedloc::ParamType::String, "vanilla",
                          "dense features: vanilla CLIP, SCLIP (correlative self-attention) or NACLIP (neighbourhood attention)",
                          false, {"vanilla", "sclip", "naclip"}});
  dense_params.push_back(tedloc::ParamDecl{"naclip_std", tedloc::ParamType::Float, 5.0, "NACLIP's Gaussian std, in grid cells"}.above(0));
  registrar.add<tedloc::Baseline, ClipDense>(
      {"clip_dense", "1.0.0", "map = cos(patch token, class embedding) of vanilla CLIP, SCLIP or NACLIP", dense_params});
  registrar.add<tedloc::Baseline, ClipEs>(
      {"clip_es", "1.0.0", "map = CLIP-ES Grad-CAM of the true or predicted class", common_params()});
}
