// TeD-Loc's pseudo-label sources (cam_source plugins):
//   clip_es   CLIP-ES's Grad-CAM on CLIP of each image's requested class (request.labels), in [0, 1]
//             (tedloc::clip::clip_es_gradcam; its header lists the steps reproduced and left out). The
//             softmax runs over the task's class embeddings (PluginContext::class_embeddings).
//   npy_maps  maps computed elsewhere: <dir>/<image_id>.npy (the WSOL reference's score-map layout),
//             clamped to [0, 1].
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <tedloc/clip/clip_dense.hpp>
#include <tedloc/clip/zero_shot.hpp>
#include <tedloc/error.hpp>
#include <tedloc/eval/npy.hpp>
#include <tedloc/plugin/cam_source.hpp>
#include <torch/torch.h>

namespace {

struct ClipEsCam final : tedloc::CamSource {
  tedloc::clip::ZeroShotClip clip;

  ClipEsCam(const tedloc::Params& p, const tedloc::PluginContext& c)
      : clip(tedloc::clip::load_zero_shot_clip(p.get<std::string>("weights"), c.class_embeddings, c.device, "clip_es")) {}

  torch::Tensor cams(const tedloc::CamRequest& request) override {
    const auto images = request.images.to(clip.device, torch::kFloat);
    const int64_t n = images.size(0), classes = clip.class_embeddings.size(0);
    if (!request.labels.defined() || request.labels.dim() != 1 || request.labels.size(0) != n)
      throw tedloc::InputError(fmt::format("clip_es: needs one label per image ({}), got {}", n,
                                           request.labels.defined() ? c10::str(request.labels.sizes()) : "none"));
    if (n > 0 && (request.labels.min().item<int64_t>() < 0 || request.labels.max().item<int64_t>() >= classes))
      throw tedloc::InputError(fmt::format("clip_es: labels outside the {} classes of the class embeddings", classes));
    return tedloc::clip::clip_es_gradcam(clip.model, images, clip.class_embeddings, request.labels.to(clip.device, torch::kLong))
        .cam;
  }
};

// One map: a 2-D array of <dir>/<id>.npy as float32, clamped to [0, 1].
torch::Tensor read_map(const std::string& file) {
  if (!std::filesystem::is_regular_file(file))
    throw tedloc::InputError(fmt::format("{}: score map missing (npy_maps reads <dir>/<image_id>.npy)", file));
  const tedloc::eval::NpyArray array = tedloc::eval::read_npy(file);
  if (array.shape.size() != 2)
    throw tedloc::InputError(fmt::format("{}: score map of shape {} is not 2-D", file, array.shape));
  auto map = torch::tensor(array.data, torch::kDouble)
                 .view({static_cast<int64_t>(array.shape[0]), static_cast<int64_t>(array.shape[1])});
  return map.clamp(0.0, 1.0).to(torch::kFloat);
}

struct NpyMaps final : tedloc::CamSource {
  std::string dir;
  explicit NpyMaps(const tedloc::Params& p) : dir(p.get<std::string>("dir")) {}

  torch::Tensor cams(const tedloc::CamRequest& request) override {
    if (request.image_ids.size() != static_cast<size_t>(request.images.size(0)))
      throw tedloc::InputError(fmt::format("npy_maps: needs the image ids of the {} images, got {}", request.images.size(0),
                                           request.image_ids.size()));
    std::vector<torch::Tensor> maps;
    for (const auto& id : request.image_ids) {
      const std::string file = (std::filesystem::path(dir) / (id + ".npy")).string();
      maps.push_back(read_map(file));
      if (maps.back().sizes() != maps.front().sizes())
        throw tedloc::InputError(fmt::format("{}: score map of shape {} differs from the batch's first, {}", file,
                                             maps.back().sizes(), maps.front().sizes()));
    }
    return torch::stack(maps).to(request.images.device());
  }
};

}  // namespace

TEDLOC_PLUGINS(registrar) {
  registrar.add<tedloc::CamSource, ClipEsCam>(
      {"clip_es", "1.0.0", "CLIP-ES Grad-CAM on CLIP of the requested class, in [0, 1]",
       {{"weights", tedloc::ParamType::File, nullptr, "CLIP weights: .safetensors or OpenAI TorchScript .pt", true}}});
  registrar.add<tedloc::CamSource, NpyMaps>(
      {"npy_maps", "1.0.0", "score maps from <dir>/<image_id>.npy (2-D, clamped to [0, 1])",
       {{"dir", tedloc::ParamType::String, nullptr, "folder of <image_id>.npy maps", true}}});
}
