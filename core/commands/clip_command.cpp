#include "tedloc/commands/clip_command.hpp"

#include <iostream>
#include <thread>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "tedloc/clip/clip_dense.hpp"
#include "tedloc/clip/clip_model.hpp"
#include "tedloc/clip/safetensors.hpp"
#include "tedloc/device.hpp"
#include "tedloc/error.hpp"

namespace tedloc::clip {
namespace {

namespace po = boost::program_options;

struct ForwardOptions {
  std::string weights, inputs, out;
  c10::Device device = c10::Device(c10::kCPU);
  double naclip_std = 5.0;
  int64_t zeroshot_templates = 80;
  int64_t clip_es_image = 0, clip_es_target = 0;
  HeadCounts heads;
};

// The input tensor NAME if present, checked for rank and kind (floating or integer).
torch::Tensor input(const SafetensorsFile& in, const std::string& file, const std::string& name, int64_t rank, bool floating,
                    c10::Device device) {
  auto it = in.tensors.find(name);
  if (it == in.tensors.end()) return {};
  const auto& t = it->second;
  if (t.dim() != rank || torch::isFloatingType(t.scalar_type()) != floating)
    throw InputError(fmt::format("{}: tensor '{}' has shape {} and dtype {}, expected {} dimensions of {} type", file, name,
                                 t.sizes(), c10::toString(t.scalar_type()), rank, floating ? "a floating" : "an integer"));
  return (floating ? t.to(torch::kFloat) : t.to(torch::kLong)).to(device);
}

TensorMap compute_outputs(CLIP& model, const SafetensorsFile& in, const ForwardOptions& o) {
  const auto images = input(in, o.inputs, "images", 4, true, o.device);
  const auto token_ids = input(in, o.inputs, "token_ids", 2, false, o.device);
  const auto rect = input(in, o.inputs, "images_rect", 4, true, o.device);
  const int64_t zeroshot_rank =
      in.tensors.count("zeroshot_token_ids") && in.tensors.at("zeroshot_token_ids").dim() == 3 ? 3 : 2;
  auto zeroshot_ids = input(in, o.inputs, "zeroshot_token_ids", zeroshot_rank, false, o.device);
  if (!images.defined() && !token_ids.defined())
    throw InputError(fmt::format("{}: holds neither 'images' nor 'token_ids'", o.inputs));

  TensorMap out;
  auto& vit = model->visual;
  {
    torch::NoGradGuard no_grad;  // not InferenceMode: the text features feed Grad-CAM's backward below
    if (images.defined()) {
      const auto [gh, gw] = vit->grid_of(images);
      out["image_features"] = model->encode_image(images);
      out["patch_tokens"] = vanilla_patch_tokens(vit, images);
      out["sclip_patch_tokens"] = sclip_patch_tokens(vit, images);
      out["naclip_patch_tokens"] = naclip_patch_tokens(vit, images, o.naclip_std);
      out["naclip_attn_addition"] = naclip_attention_bias(gh, gw, o.naclip_std);
    }
    if (token_ids.defined()) out["text_features"] = model->encode_text(token_ids);
    if (images.defined() && token_ids.defined())
      out["logits_per_image"] = scaled_cosine_logits(out["image_features"], out["text_features"], model->logit_scale);
    if (zeroshot_ids.defined()) {
      if (zeroshot_ids.dim() == 2) {
        if (o.zeroshot_templates <= 0 || zeroshot_ids.size(0) % o.zeroshot_templates != 0)
          throw InputError(fmt::format("{}: tensor 'zeroshot_token_ids' has {} rows, not a multiple of --zeroshot-templates {}",
                                       o.inputs, zeroshot_ids.size(0), o.zeroshot_templates));
        zeroshot_ids = zeroshot_ids.view({-1, o.zeroshot_templates, zeroshot_ids.size(1)});
      }
      out["zeroshot_weights"] = zeroshot_weights(model, zeroshot_ids);
    }
    if (rect.defined()) {
      const auto [gh, gw] = vit->grid_of(rect);
      out["pos_embed_rect"] = interpolate_positional_table(vit->positional_embedding, gh, gw);
      out["vanilla_patch_tokens_rect"] = vanilla_patch_tokens(vit, rect);
      out["sclip_patch_tokens_rect"] = sclip_patch_tokens(vit, rect);
      out["naclip_patch_tokens_rect"] = naclip_patch_tokens(vit, rect, o.naclip_std);
    }
  }
  if (images.defined() && token_ids.defined()) {
    const auto& texts = out["text_features"];
    if (o.clip_es_image < 0 || o.clip_es_image >= images.size(0) || o.clip_es_target < 0 || o.clip_es_target >= texts.size(0))
      throw InputError(fmt::format("--clip-es-image {} / --clip-es-target {} outside {} images / {} texts", o.clip_es_image,
                                   o.clip_es_target, images.size(0), texts.size(0)));
    const auto cam = clip_es_gradcam(model, images.slice(0, o.clip_es_image, o.clip_es_image + 1), texts,
                                     torch::full({1}, o.clip_es_target, torch::TensorOptions(torch::kLong).device(o.device)));
    out["clip_es_probs"] = cam.probs;
    out["clip_es_gradcam_raw"] = cam.raw[0];
    out["clip_es_gradcam"] = cam.cam[0];
  }
  for (auto& [name, t] : out) t = t.cpu();
  return out;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

}  // namespace

int clip_forward_command(const std::vector<std::string>& args) {
  ForwardOptions o;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::string device = "cpu";
  po::options_description desc(
      "tedloc clip forward: run CLIP, SCLIP, NACLIP and CLIP-ES Grad-CAM on the tensors of a .safetensors file\n"
      "inputs: images [N,3,H,W] (normalised), token_ids [M,77]; optional zeroshot_token_ids, images_rect\n"
      "outputs: image_features patch_tokens text_features logits_per_image sclip_patch_tokens naclip_patch_tokens\n"
      "  naclip_attn_addition zeroshot_weights pos_embed_rect *_patch_tokens_rect clip_es_probs clip_es_gradcam(_raw)\n"
      "options");
  desc.add_options()
      ("help,h", "print this help")
      ("weights", po::value(&o.weights)->required(), "CLIP weights: .safetensors or OpenAI TorchScript .pt")
      ("inputs", po::value(&o.inputs)->required(), "input tensors (.safetensors)")
      ("out", po::value(&o.out)->required(), "output tensors (.safetensors)")
      ("naclip-std", po::value(&o.naclip_std)->default_value(5.0), "NACLIP's Gaussian std (grid cells)")
      ("zeroshot-templates", po::value(&o.zeroshot_templates)->default_value(80), "templates per class in a 2-D zeroshot_token_ids")
      ("clip-es-image", po::value(&o.clip_es_image)->default_value(0), "image index for the CLIP-ES Grad-CAM")
      ("clip-es-target", po::value(&o.clip_es_target)->default_value(0), "text index (class) for the CLIP-ES Grad-CAM")
      ("vision-heads", po::value(&o.heads.vision)->default_value(0), "vision head count (0: metadata, else width/64)")
      ("text-heads", po::value(&o.heads.text)->default_value(0), "text head count (0: metadata, else width/64)")
      ("threads", po::value(&threads)->default_value(threads), "intra-op threads")
      ("device", po::value(&device)->default_value(device), "cpu, cuda or auto (cuda when available)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return kExitOk;
    }
    po::notify(vm);
    if (threads < 1 || o.naclip_std <= 0) throw po::error("--threads and --naclip-std must be positive");
  } catch (const po::error& e) {
    std::cerr << "tedloc clip forward: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }
  try {
    at::set_num_threads(threads);  // Debian's LibTorch starts with one thread
    o.device = resolve_device(device);
    auto model = load_clip(o.weights, o.heads);
    model->to(o.device);
    const auto outputs = compute_outputs(model, read_safetensors(o.inputs), o);
    write_safetensors(o.out, outputs);
    std::cout << fmt::format("wrote {} tensors to {}\n", outputs.size(), o.out);
    return kExitOk;
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitBadInput;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << first_line(e.what_without_backtrace()) << "\n";
    return kExitBadInput;
  }
}

}  // namespace tedloc::clip
