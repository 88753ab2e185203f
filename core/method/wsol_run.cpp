#include "tedloc/method/wsol_run.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <torch/script.h>
#include <torch/torch.h>

#include "tedloc/clip/clip_model.hpp"
#include "tedloc/clip/safetensors.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/method/inference.hpp"
#include "tedloc/clip/text_encoder.hpp"
#include "tedloc/text/clip_tokenizer.hpp"

namespace tedloc::method {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> read_lines(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file + ": cannot read");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

template <class T>
void keep_first(std::vector<T>& v, std::int64_t n) {
  if (n > 0 && static_cast<std::int64_t>(v.size()) > n) v.resize(static_cast<std::size_t>(n));
}

void limit_split(eval::SplitMetadata& s, std::int64_t n) {
  keep_first(s.image_ids, n);
  keep_first(s.class_labels, n);
  keep_first(s.image_sizes, n);
  keep_first(s.boxes, n);
  keep_first(s.masks, n);
}

}  // namespace

std::vector<data::ImageRecord> load_split_records(const std::string& dir) {
  const std::string ids_file = dir + "/image_ids.txt", labels_file = dir + "/class_labels.txt";
  const auto ids = read_lines(ids_file);
  std::map<std::string, int> labels;
  const auto label_lines = read_lines(labels_file);
  for (std::size_t i = 0; i < label_lines.size(); ++i) {
    const auto comma = label_lines[i].rfind(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      std::size_t used = 0;
      const int label = std::stoi(label_lines[i].substr(comma + 1), &used);
      if (used != label_lines[i].size() - comma - 1 || label < 0) throw std::invalid_argument("bad label");
      labels[label_lines[i].substr(0, comma)] = label;
    } catch (const std::exception&) {
      throw InputError(fmt::format("{}:{}: expected <image id>,<non-negative integer label>", labels_file, i + 1));
    }
  }
  std::vector<data::ImageRecord> records;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) continue;
    const auto it = labels.find(ids[i]);
    if (it == labels.end()) throw InputError(fmt::format("{}:{}: image '{}' has no label in {}", ids_file, i + 1, ids[i], labels_file));
    records.push_back({ids[i], it->second});
  }
  return records;
}

std::vector<data::ImageRecord> records_of(const eval::SplitMetadata& split) {
  if (split.class_labels.size() != split.image_ids.size()) {
    throw InputError(split.folder + ": class_labels.txt is missing or does not cover image_ids.txt");
  }
  std::vector<data::ImageRecord> records;
  for (std::size_t i = 0; i < split.image_ids.size(); ++i) records.push_back({split.image_ids[i], split.class_labels[i]});
  return records;
}

WsolDataset load_wsol_dataset(const Params& p) {
  WsolDataset d;
  const std::string root = p.get<std::string>("data.metadata");
  d.image_root = p.get<std::string>("data.images");
  if (!fs::is_directory(root)) throw InputError(root + ": no such metadata folder (data.metadata)");
  if (!fs::is_directory(d.image_root)) throw InputError(d.image_root + ": no such image folder (data.images)");
  d.train = load_split_records(root + "/train");
  keep_first(d.train, p.get<std::int64_t>("data.limit_train"));
  d.val = eval::load_split(root + "/val");
  d.test = eval::load_split(root + "/test");
  limit_split(d.val, p.get<std::int64_t>("data.limit_val"));
  limit_split(d.test, p.get<std::int64_t>("data.limit_test"));
  std::string classes = p.get<std::string>("data.classes");
  if (classes.empty() && fs::exists(root + "/classes.txt")) classes = root + "/classes.txt";
  int max_label = 0;
  for (const auto& r : d.train) max_label = std::max(max_label, r.label);
  if (!classes.empty()) {
    for (auto& line : read_lines(classes)) {
      if (!line.empty()) d.class_names.push_back(line);
    }
  } else {
    for (int k = 0; k <= max_label; ++k) d.class_names.push_back(fmt::format("class {}", k));
  }
  if (max_label >= static_cast<int>(d.class_names.size())) {
    throw InputError(fmt::format("{}: {} class names, but the train split has label {}", classes,
                                 d.class_names.size(), max_label));
  }
  return d;
}

Encoder make_encoder(const Params& p, int64_t image_size, const c10::Device& device) {
  const std::string type = p.get<std::string>("encoder.type");
  const std::string weights = p.get<std::string>("encoder.weights");
  if (weights.empty()) throw InputError("encoder.weights: the encoder's weight file is required");
  Encoder e;
  if (type == "clip") {
    auto model = std::make_shared<clip::CLIP>(clip::load_clip(weights));
    clip::VisionTransformer vit = (*model)->visual;
    vit->to(device);
    vit->eval();
    for (auto& t : vit->parameters()) t.requires_grad_(false);
    for (const auto& t : vit->parameters()) e.parameters += t.numel();
    e.tokens = [vit](const torch::Tensor& images) mutable { return vit->patch_tokens(images); };
    e.description = fmt::format("native CLIP ViT ({})", weights);
  } else {
    auto module = std::make_shared<torch::jit::script::Module>(torch::jit::load(weights, device));
    module->eval();
    for (const auto& t : module->parameters()) e.parameters += t.numel();
    e.tokens = [module](const torch::Tensor& images) { return module->forward({images}).toTensor(); };
    e.description = fmt::format("TorchScript encoder ({})", weights);
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor probe = e.tokens(torch::zeros({1, 3, image_size, image_size}, device));
  if (probe.dim() != 3) {
    throw InputError(fmt::format("{}: the encoder returned shape {}, expected [B, N, C] patch tokens", weights,
                                 c10::str(probe.sizes())));
  }
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(probe.size(1)))));
  if (side * side != probe.size(1)) {
    throw InputError(fmt::format("{}: {} patch tokens do not form a square grid", weights, probe.size(1)));
  }
  e.grid_h = e.grid_w = side;
  e.width = probe.size(2);
  return e;
}

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

std::vector<ParamDecl> data_params() {
  return {
      {"data.metadata", ParamType::String, nullptr, "folder with the train/val/test split folders (protocol layout)", true},
      {"data.images", ParamType::String, nullptr, "image root: images are <root>/<image id>", true},
      {"data.classes", ParamType::File, "", "class names, one per line (default <metadata>/classes.txt)"},
      {"data.size", ParamType::Int, 224, "model input side (eval resize, train crop)"},
      {"data.resize", ParamType::Int, 256, "train: resize side before the random crop"},
      {"data.augment", ParamType::String, "crop_flip", "train augmentation", false, {"crop_flip", "flip", "none"}},
      {"data.threads", ParamType::Int, 2, "image decoding threads"},
      {"data.limit_train", ParamType::Int, 0, "use only the first N train images (0: all)"},
      {"data.limit_val", ParamType::Int, 0, "use only the first N val images (0: all)"},
      {"data.limit_test", ParamType::Int, 0, "use only the first N test images (0: all)"},
      {"data.normalize", ParamType::String, "clip", "mean/std of the input", false, {"clip", "imagenet"}},
  };
}

std::vector<ParamDecl> encoder_params() {
  return {
      {"encoder.type", ParamType::String, "clip", "frozen encoder", false, {"clip", "torchscript"}},
      {"encoder.weights", ParamType::File, nullptr, "CLIP checkpoint (.safetensors/.pt) or TorchScript file", true},
  };
}

std::vector<ParamDecl> text_params() {
  return {
      {"text.encoder", ParamType::String, "ngram", "class text embeddings", false, {"ngram", "clip", "file"}},
      {"text.dim", ParamType::Int, 512, "ngram: embedding width"},
      {"text.templates", ParamType::StringList, nlohmann::json::array(), "prompt templates with {} (empty: built-in)"},
      {"text.vocab", ParamType::File, "", "clip: bpe_simple_vocab_16e6.txt.gz"},
      {"text.weights", ParamType::File, "", "clip: checkpoint of the text tower (default encoder.weights)"},
      {"text.file", ParamType::File, "", "file: K x d embeddings (.npy or .safetensors)"},
  };
}

std::vector<ParamDecl> eval_params() {
  return {
      {"eval.interval", ParamType::Float, 0.01, "cam threshold spacing during training (val, each epoch)"},
      {"eval.test_interval", ParamType::Float, 0.001, "cam threshold spacing of the final val/test evaluation"},
      {"eval.batch_size", ParamType::Int, 32, "evaluation batch size"},
  };
}

SplitScores score_split(const eval::SplitMetadata& split, const std::string& image_root,
                        const data::TransformOptions& transform, int batch_size, int threads, double interval,
                        const std::function<MapBatch(const data::Batch&)>& infer,
                        const std::function<void(std::int64_t, std::int64_t)>& progress) {
  data::LoaderOptions o;
  o.transform = transform;
  o.transform.train = false;
  o.batch_size = batch_size;
  o.shuffle = false;
  o.num_threads = threads;
  data::ImageLoader loader(records_of(split), image_root, o);
  SplitScores s{eval::make_box_curves(interval, {30, 50, 70}), eval::make_box_curves(interval, {30, 50, 70})};
  eval::ContourSweep sweep;
  loader.start_epoch(0);
  std::int64_t done = 0;
  while (auto batch = loader.next()) {
    MapBatch out = infer(*batch);
    torch::Tensor maps = resize_min_max(out.maps.detach().to(torch::kCPU, torch::kFloat), 224, 224)
                             .to(torch::kDouble).contiguous();
    torch::Tensor scores = out.scores.defined() ? out.scores.detach().to(torch::kCPU, torch::kFloat).contiguous()
                                                : torch::Tensor();
    for (std::int64_t b = 0; b < maps.size(0); ++b) {
      const auto i = static_cast<std::size_t>(batch->indices[static_cast<std::size_t>(b)]);
      const eval::QuantizedMap q =
          eval::quantize_scoremap(maps[b].data_ptr<double>(), 224, 224, split.image_ids[i]);
      const auto gt = eval::resized_boxes(split, i, 224);
      eval::ClassHit hit;
      if (scores.defined()) {
        const float* row = scores[b].data_ptr<float>();
        const std::vector<float> v(row, row + scores.size(1));
        hit.top1 = eval::class_in_top_k(v, split.class_labels[i], 1);
        hit.top5 = eval::class_in_top_k(v, split.class_labels[i], 5);
      }
      eval::accumulate(s.single, sweep.best_iou(q, gt, s.single.cam_thresholds, false), scores.defined() ? &hit : nullptr);
      eval::accumulate(s.multi, sweep.best_iou(q, gt, s.multi.cam_thresholds, true), nullptr);
    }
    done += maps.size(0);
    if (progress) progress(done, loader.size());
  }
  return s;
}

void log_split_metrics(const MetricSink& log, const std::string& split, const SplitScores& s,
                       const std::size_t* operating) {
  const eval::BoxSummary single = eval::summarize(s.single);
  for (const auto& r : single.per_iou) log(split, fmt::format("maxboxacc_{}", r.iou), r.max_box_acc, -1);
  log(split, "best_threshold_50", single.per_iou[1].best_threshold, -1);
  log(split, "maxboxacc_v2", eval::summarize(s.multi).mean, -1);
  if (s.single.num_classified > 0) {
    log(split, "cl_top1", eval::top1_cl_accuracy(s.single), -1);
    log(split, "cl_top5", eval::top5_cl_accuracy(s.single), -1);
  }
  if (operating) {
    const eval::LocalizationAt at = eval::localization_at(s.single, *operating);
    log(split, "gt_known_loc", at.box_acc[1], -1);
    if (s.single.num_classified > 0) {
      log(split, "top1_loc", at.top1_loc, -1);
      log(split, "top5_loc", at.top5_loc, -1);
      const eval::LocalizationAt own = eval::localization_at(s.single, eval::operating_index(s.single));
      log(split, "top1_loc_own", own.top1_loc, -1);
      log(split, "top5_loc_own", own.top5_loc, -1);
    }
  }
}

data::TransformOptions transform_options(const Params& p, bool train) {
  data::TransformOptions t;
  t.crop_size = p.get<int>("data.size");
  const std::string augment = p.get<std::string>("data.augment");
  t.train = train && augment != "none";
  t.resize_size = augment == "crop_flip" ? p.get<int>("data.resize") : t.crop_size;
  t.random_crop = augment == "crop_flip";
  t.random_flip = augment != "none";
  if (p.get<std::string>("data.normalize") == "clip") {
    t.mean = data::kClipMean;
    t.std = data::kClipStd;
  }
  return t;
}

}  // namespace tedloc::method
