#include "tedloc/clip/mini_clip.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tedloc/clip/safetensors.hpp"
#include "tedloc/data/loader.hpp"
#include "tedloc/device.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/clip/text_encoder.hpp"
#include "tedloc/util.hpp"

namespace tedloc::clip {
namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

constexpr int64_t kHeadDim = 32;       // image tower head width (OpenAI uses 64; these towers are narrower)
constexpr double kMaxLogitScale = 4.6052;  // ln 100, CLIP's clamp of the learned temperature
constexpr const char* kOptionsKey = "tedloc_mini_clip";

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open file (is --data a FashionWSOL dataset?)", file.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// classes.txt: one class name per line, label = line index.
std::vector<std::string> read_class_names(const fs::path& file) {
  std::vector<std::string> names;
  std::istringstream lines(read_text(file));
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) names.push_back(line);
  if (names.empty()) throw InputError(fmt::format("{}: no class names", file.string()));
  return names;
}

std::vector<data::ImageRecord> records_of(const eval::SplitMetadata& split, size_t classes) {
  if (split.class_labels.size() != split.image_ids.size())
    throw InputError(fmt::format("{}: class_labels.txt is missing", split.folder));
  std::vector<data::ImageRecord> records;
  for (size_t i = 0; i < split.image_ids.size(); ++i) {
    if (split.class_labels[i] < 0 || static_cast<size_t>(split.class_labels[i]) >= classes)
      throw InputError(fmt::format("{}/class_labels.txt: label {} of '{}' is not one of the {} classes", split.folder,
                                   split.class_labels[i], split.image_ids[i], classes));
    records.push_back({split.image_ids[i], split.class_labels[i]});
  }
  if (records.empty()) throw InputError(fmt::format("{}: the split has no image", split.folder));
  return records;
}

// The square canvas side shared by every image of the dataset.
int canvas_of(const eval::SplitMetadata& split) {
  if (split.image_sizes.empty()) throw InputError(fmt::format("{}/image_sizes.txt: no sizes", split.folder));
  const auto s = split.image_sizes.front();
  for (size_t i = 0; i < split.image_sizes.size(); ++i)
    if (split.image_sizes[i].width != s.width || split.image_sizes[i].height != s.width)
      throw InputError(fmt::format("{}/image_sizes.txt: '{}' is {}x{}, not the {}x{} canvas of the others", split.folder,
                                   split.image_ids[i], split.image_sizes[i].width, split.image_sizes[i].height, s.width, s.width));
  return s.width;
}

// Light augmentation: horizontal flip and a random crop of the canvas from a 1/16 larger resize.
data::LoaderOptions loader_options(int canvas, bool train, const MiniClipOptions& o) {
  data::LoaderOptions l;
  l.transform.train = train;
  l.transform.crop_size = canvas;
  l.transform.resize_size = canvas + std::max(1, canvas / 16);
  l.transform.mean = data::kClipMean;
  l.transform.std = data::kClipStd;
  l.batch_size = train ? o.batch : 256;
  l.shuffle = train;
  l.seed = o.seed;
  l.num_threads = 1;  // one decoding thread ahead of the model; batches do not depend on it
  l.pin_memory = o.device != "cpu";  // page-locked batches for asynchronous copies (a no-op without CUDA)
  return l;
}

// Linear warm-up to `peak` over `warmup` steps, then cosine decay to 0 at `total`.
double learning_rate(int64_t step, int64_t warmup, int64_t total, double peak) {
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double t = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  return peak * 0.5 * (1.0 + std::cos(M_PI * t));
}

// AdamW groups: weight decay on the weight matrices only (CLIP's recipe exempts gains, biases, embeddings
// and the temperature).
std::vector<torch::optim::OptimizerParamGroup> parameter_groups(CLIP& model, double weight_decay) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model->visual->named_parameters(true)) {
    const bool matrix = p.value().dim() >= 2 && p.key() != "positional_embedding";
    (matrix ? decay : no_decay).push_back(p.value());
  }
  no_decay.push_back(model->logit_scale);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions().weight_decay(weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions().weight_decay(0.0)));
  return groups;
}

struct Accuracy {
  double global = 0, patch_mean = 0;
};

// Top-1 accuracy (%) of the zero-shot logits on every batch of the loader.
Accuracy evaluate(CLIP& model, data::ImageLoader& loader, const torch::Tensor& text, c10::Device device) {
  torch::NoGradGuard no_grad;
  model->eval();
  int64_t correct = 0, correct_mean = 0, total = 0;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    auto& vit = model->visual;
    const auto labels = batch->labels.to(device);
    auto tokens = vit->project(vit->transformer(vit->embed(batch->images.to(device))));  // one pass, both poolings
    correct += (tokens.select(1, 0).matmul(text.t()).argmax(1) == labels).sum().item<int64_t>();
    correct_mean += (tokens.slice(1, 1).mean(1).matmul(text.t()).argmax(1) == labels).sum().item<int64_t>();
    total += batch->images.size(0);
  }
  model->train();
  return {100.0 * correct / total, 100.0 * correct_mean / total};
}

// What decides the trained weights: a file carrying the same key is reused.
std::string training_key(const MiniClipOptions& o, const std::string& dataset_manifest) {
  const nlohmann::json key = {{"epochs", o.epochs},   {"batch", o.batch},   {"lr", o.lr},
                              {"weight_decay", o.weight_decay}, {"width", o.width}, {"layers", o.layers},
                              {"patch", o.patch},     {"embed_dim", o.embed_dim}, {"seed", o.seed},
                              {"loss", "class_token+mean_patch"},
                              {"dataset", nlohmann::json::parse(dataset_manifest, nullptr, false)}};
  return key.dump();
}

void validate(const MiniClipOptions& o) {
  if (o.data_dir.empty() || o.out.empty()) throw UsageError("--data and --out are required");
  if (o.epochs < 1 || o.batch < 1 || o.lr <= 0 || o.weight_decay < 0 || o.layers < 1 || o.patch < 1 || o.embed_dim < 1 ||
      o.threads < 0)
    throw UsageError("--epochs, --batch, --layers, --patch, --embed-dim must be >= 1, --lr > 0, --threads >= 0");
  if (o.width < kHeadDim || o.width % kHeadDim != 0)
    throw UsageError(fmt::format("--width {} must be a multiple of the head width {}", o.width, kHeadDim));
}

}  // namespace

ClipConfig mini_clip_config(const MiniClipOptions& o, int64_t image_size) {
  if (image_size % o.patch != 0)
    throw UsageError(fmt::format("the canvas {} is not a multiple of --patch {}", image_size, o.patch));
  ClipConfig c;
  c.vision.width(o.width).layers(o.layers).heads(o.width / kHeadDim).patch_size(o.patch).grid(image_size / o.patch)
      .output_dim(o.embed_dim);
  c.text.width(32).layers(1).heads(2).context_length(77).vocab_size(49408).output_dim(o.embed_dim);
  return c;
}

MiniClipResult train_mini_clip(const MiniClipOptions& o) {
  validate(o);
  const auto start = std::chrono::steady_clock::now();
  const fs::path meta = fs::path(o.data_dir) / "metadata" / "FashionWSOL";
  const std::string key = training_key(o, read_text(meta / "dataset.json"));

  MiniClipResult result;
  if (!o.force && fs::is_regular_file(o.out)) {
    try {
      const auto previous = read_safetensors(o.out);
      auto it = previous.metadata.find(kOptionsKey);
      if (it != previous.metadata.end() && it->second == key) {
        result.reused = true;
        const auto acc = nlohmann::json::parse(previous.metadata.at("val_accuracy"));
        result.val_accuracy = acc.at("global").get<std::vector<double>>();
        result.val_accuracy_patch_mean = acc.at("patch_mean").get<std::vector<double>>();
        return result;
      }
    } catch (const std::exception&) {
    }  // unreadable or older: trained again and overwritten
  }

  const auto class_names = read_class_names(meta / "classes.txt");
  const auto train_split = eval::load_split((meta / "train").string());
  const auto val_split = eval::load_split((meta / "val").string());
  const int canvas = canvas_of(train_split);
  const std::string image_root = (fs::path(o.data_dir) / "images").string();
  data::ImageLoader train(records_of(train_split, class_names.size()), image_root, loader_options(canvas, true, o));
  data::ImageLoader val(records_of(val_split, class_names.size()), image_root, loader_options(canvas, false, o));

  // Debian's LibTorch starts with one intra-op thread: default to every core.
  torch::set_num_threads(o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  torch::manual_seed(o.seed);
  const c10::Device device = resolve_device(o.device);
  CLIP model(mini_clip_config(o, canvas));  // initialised on the CPU: the same weights on every device
  model->to(device);
  model->train();
  NgramEncoderOptions text_options;
  text_options.dim = o.embed_dim;
  const auto text =
      ngram_text_embeddings(class_names, default_prompt_templates(), text_options).to(device);

  torch::optim::AdamW optimizer(parameter_groups(model, o.weight_decay), torch::optim::AdamWOptions(o.lr));
  const int64_t steps_per_epoch = train.num_batches(), total = steps_per_epoch * o.epochs;
  Progress progress("mini-clip", total, o.progress);
  int64_t step = 0;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    train.start_epoch(epoch);
    double loss_sum = 0;
    int64_t batches = 0;
    while (auto batch = train.next()) {
      const double lr = learning_rate(step, steps_per_epoch, total, o.lr);
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
      const auto labels = batch->labels.to(device, /*non_blocking=*/true);
      auto& vit = model->visual;
      const auto tokens = vit->project(vit->transformer(vit->embed(batch->images.to(device, /*non_blocking=*/true))));
      // Both poolings: the global embedding (class token) and CLIP-ES's mean patch token. Real CLIP's patch
      // tokens carry the class from its pre-training, which CLIP-ES's Grad-CAM relies on; a tiny tower trained
      // on the class token alone leaves the mean patch token near chance (13% for 10 classes, seen).
      auto class_loss = [&](const torch::Tensor& embedding) {
        return torch::nn::functional::cross_entropy(scaled_cosine_logits(embedding, text, model->logit_scale), labels);
      };
      auto loss = class_loss(tokens.select(1, 0)) + class_loss(tokens.slice(1, 1).mean(1));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      {
        torch::NoGradGuard no_grad;
        model->logit_scale.clamp_(0.0, kMaxLogitScale);
      }
      loss_sum += loss.item<double>();
      ++batches;
      progress.update(++step, fmt::format("epoch {}/{} loss {:.3f}", epoch + 1, o.epochs, loss_sum / batches));
    }
    const Accuracy acc = evaluate(model, val, text, device);
    result.val_accuracy.push_back(acc.global);
    result.val_accuracy_patch_mean.push_back(acc.patch_mean);
    progress.update(step, fmt::format("epoch {}/{} loss {:.3f} val acc {:.1f}% (patch mean {:.1f}%)", epoch + 1, o.epochs,
                                      loss_sum / batches, acc.global, acc.patch_mean));
    if (o.progress)
      std::cerr << fmt::format("\nepoch {}: train loss {:.4f}, val accuracy {:.2f}% (global), {:.2f}% (mean patch token)\n",
                               epoch + 1, loss_sum / batches, acc.global, acc.patch_mean);
  }
  progress.finish();

  TensorMap tensors;
  for (const auto& p : model->named_parameters(true)) tensors[p.key()] = p.value().detach().cpu();
  const nlohmann::json accuracy = {{"global", result.val_accuracy}, {"patch_mean", result.val_accuracy_patch_mean}};
  write_safetensors(o.out, tensors,
                    {{"format", "pt"},
                     {"vision_heads", std::to_string(model->config.vision.heads())},
                     {"text_heads", std::to_string(model->config.text.heads())},
                     {"text_tower", "random, untrained: use the n-gram text encoder's class embeddings"},
                     {kOptionsKey, key},
                     {"val_accuracy", accuracy.dump()}});
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

int train_mini_clip_command(const std::vector<std::string>& args) {
  MiniClipOptions o;
  po::options_description desc(
      "tedloc clip train-mini: train the embedded benchmark's mini-CLIP image tower on a FashionWSOL dataset with class labels\n"
      "only (zero-shot logits against the built-in n-gram text encoder's prompt embeddings) and save it in OpenAI's layout\n"
      "options");
  desc.add_options()
      ("help,h", "print this help")
      ("data", po::value(&o.data_dir)->required(), "FashionWSOL dataset folder (tedloc data fashion-wsol --out DIR)")
      ("out", po::value(&o.out)->required(), "weights file to write (.safetensors)")
      ("epochs", po::value(&o.epochs)->default_value(o.epochs), "training epochs")
      ("batch", po::value(&o.batch)->default_value(o.batch), "batch size")
      ("lr", po::value(&o.lr)->default_value(o.lr), "AdamW peak learning rate (warm-up over the first epoch, cosine decay)")
      ("weight-decay", po::value(&o.weight_decay)->default_value(o.weight_decay), "AdamW weight decay (matrices only)")
      ("width", po::value(&o.width)->default_value(o.width), "image tower width (a multiple of 32; heads = width / 32)")
      ("layers", po::value(&o.layers)->default_value(o.layers), "image tower blocks")
      ("patch", po::value(&o.patch)->default_value(o.patch), "patch size (divides the canvas)")
      ("embed-dim", po::value(&o.embed_dim)->default_value(o.embed_dim), "joint embedding width")
      ("threads", po::value(&o.threads)->default_value(o.threads), "intra-op threads (0: every core)")
      ("device", po::value(&o.device)->default_value(o.device), "cpu, cuda or auto (cuda when available)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "random seed")
      ("force", po::bool_switch(&o.force), "retrain even if --out holds a model trained with the same options");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    if (vm.count("help")) {
      std::cout << desc << "\n";
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "tedloc clip train-mini: " << e.what() << "\n";
    return kExitUsage;
  }
  const MiniClipResult r = train_mini_clip(o);
  if (r.reused) {
    std::cout << fmt::format("reusing {}: trained with the same options and dataset (--force retrains)\n", o.out);
  } else {
    std::cout << fmt::format("wrote {} in {}\n", o.out, format_duration(r.seconds));
  }
  for (size_t e = 0; e < r.val_accuracy.size(); ++e)
    std::cout << fmt::format("epoch {}: val accuracy {:.2f}% (global embedding), {:.2f}% (mean patch token)\n", e + 1,
                             r.val_accuracy[e], r.val_accuracy_patch_mean[e]);
  return kExitOk;
}

}  // namespace tedloc::clip
