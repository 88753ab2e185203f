#include "tedloc/method/training.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>

#include "tedloc/error.hpp"
#include "tedloc/plugin/task.hpp"
#include "tedloc/util.hpp"

namespace tedloc::method {
namespace {

// The CAM of a training image, seen through the augmentation the sample received: the CAM is computed
// once on the un-augmented (eval-resized) image, then resized, cropped and flipped like the image.
torch::Tensor augmented_cam(const torch::Tensor& cam, const data::AugmentationKey& key) {
  if (!key.train) return cam;
  namespace F = torch::nn::functional;
  torch::Tensor m = F::interpolate(cam.view({1, 1, cam.size(0), cam.size(1)}),
                                   F::InterpolateFuncOptions().size(std::vector<int64_t>{key.resize, key.resize})
                                       .mode(torch::kBilinear).align_corners(false))[0][0];
  m = m.slice(0, key.crop_y, key.crop_y + key.crop).slice(1, key.crop_x, key.crop_x + key.crop);
  return key.flip ? m.flip({1}) : m;
}

// Write aside, then rename: a crash never leaves a half-written checkpoint.
void save_atomically(torch::serialize::OutputArchive& archive, const std::string& path) {
  archive.save_to(path + ".tmp");
  std::filesystem::rename(path + ".tmp", path);
}

}  // namespace

TedLocNetImpl::TedLocNetImpl(const TedLocNetOptions& o) : options(o) {
  decoder = register_module("decoder", Decoder(o.decoder()));
  head = register_module("head", PatchHead(o.head()));
}

TedLocOutput TedLocNetImpl::forward(const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w,
                                    const torch::Tensor& anchors) {
  return tedloc_forward(decoder, head, tokens, grid_h, grid_w, anchors);
}

const ConfigFields<TedLocConfig>& tedloc_config_fields() {
  using C = TedLocConfig;
  static const ConfigFields<C> fields =
      ConfigFields<C>()
          .add({"anchors", ParamType::Plugin, "qr", "anchor transform of the class text embeddings", false, {},
                "anchor_transform"})
          .add({"cam", ParamType::Plugin, nullptr, "CAM source of the pseudo-labels (train images, true class)", true,
                {}, "cam_source"})
          .add({"loss", ParamType::Plugin, "kd_pcl_icl", "the loss set", false, {}, "loss_set"})
          .add(&C::decoder_width, ParamDecl{"decoder.width", ParamType::Int, 256, "channels inside the decoder D"}.within(1, 65536))
          .add(&C::decoder_stages,
               ParamDecl{"decoder.stages", ParamType::Int, 2, "x2 upsampling stages of D (14x14 -> 56x56 with 2)"}.within(0, 6))
          .add(&C::decoder_norm,
               {"decoder.norm", ParamType::String, "group", "normalisation in D", false, {"group", "batch", "none"}})
          .add(&C::head_hidden, ParamDecl{"head.hidden", ParamType::Int, 0, "hidden width of g (0: linear)"}.within(0, 65536))
          .add(&C::n_pos, ParamDecl{"pseudo.n_pos", ParamType::Int, 100, "n+: FG candidate cells (highest CAM)"}.at_least(1))
          .add(&C::n_neg, ParamDecl{"pseudo.n_neg", ParamType::Int, 100, "n-: BG candidate cells (lowest CAM outside Otsu FG)"}.at_least(1))
          .add(&C::cells_per_image, ParamDecl{"pseudo.s", ParamType::Int, 10, "FG and BG cells drawn per image and step"}.at_least(1))
          .add(&C::epochs, ParamDecl{"train.epochs", ParamType::Int, 10, "epochs"}.within(1, 100000))
          .add(&C::batch_size, ParamDecl{"train.batch_size", ParamType::Int, 16, "batch size"}.within(1, 65536))
          .add(&C::lr, ParamDecl{"train.lr", ParamType::Float, 0.01, "SGD learning rate"}.above(0))
          .add(&C::momentum, ParamDecl{"train.momentum", ParamType::Float, 0.9, "SGD momentum"}.within(0, 1))
          .add(&C::weight_decay, ParamDecl{"train.weight_decay", ParamType::Float, 1e-4, "SGD weight decay"}.at_least(0))
          .add(&C::schedule, {"train.schedule", ParamType::String, "cosine", "learning-rate schedule", false,
                              {"cosine", "step", "none"}})
          .add(&C::step_size, ParamDecl{"train.step_size", ParamType::Int, 10, "step schedule: epochs between decays"}.at_least(1))
          .add(&C::gamma, ParamDecl{"train.gamma", ParamType::Float, 0.1, "step schedule: decay factor"}.above(0))
          .add(&C::cache_tokens, {"cache.tokens", ParamType::String, "memory",
                                  "cache the frozen encoder's tokens per image and augmentation", false,
                                  {"none", "memory"}})
          .add(&C::overlays,
               ParamDecl{"output.overlays", ParamType::Int, 8, "test images whose map overlay is recorded (artifact 'overlay')"}.at_least(0))
          .add(&C::latency_steps,
               ParamDecl{"eval.latency_steps", ParamType::Int, 20, "timed batch-1 inferences for latency_ms (0: skip)"}.at_least(0));
  return fields;
}

TedLocNetOptions net_options(const TedLocConfig& config, int64_t encoder_width, int64_t d) {
  DecoderOptions decoder(encoder_width, d);
  decoder.width(config.decoder_width).upsample_stages(config.decoder_stages);
  decoder.norm(config.decoder_norm == "group"   ? DecoderNorm::kGroup
               : config.decoder_norm == "batch" ? DecoderNorm::kBatch
                                                : DecoderNorm::kNone);
  decoder.groups(std::min<int64_t>(8, decoder.width()));
  PatchHeadOptions head(d);
  head.hidden(config.head_hidden);
  return {decoder, head};
}

double learning_rate(const TedLocConfig& config, int epoch) {
  if (config.schedule == "cosine") return 0.5 * config.lr * (1 + std::cos(M_PI * epoch / std::max(1, config.epochs)));
  if (config.schedule == "step") return config.lr * std::pow(config.gamma, epoch / std::max(1, config.step_size));
  return config.lr;
}

TokenCache::TokenCache(Encoder& encoder, c10::Device device, bool enabled)
    : encoder_(encoder), device_(device), enabled_(enabled) {}

torch::Tensor TokenCache::tokens(const data::Batch& batch) {
  torch::NoGradGuard no_grad;
  if (!enabled_) return encoder_.tokens(batch.images.to(device_, /*non_blocking=*/true));
  std::vector<torch::Tensor> rows(batch.indices.size());
  std::vector<int64_t> missing;
  std::vector<std::string> keys;
  for (std::size_t b = 0; b < rows.size(); ++b) {
    keys.push_back(std::to_string(batch.indices[b]) + "|" + batch.keys[b].str());
    auto it = cache_.find(keys.back());
    if (it != cache_.end()) rows[b] = it->second;
    else missing.push_back(static_cast<int64_t>(b));
  }
  if (!missing.empty()) {
    auto fresh = encoder_.tokens(batch.images.index_select(0, torch::tensor(missing)).to(device_));
    for (std::size_t m = 0; m < missing.size(); ++m) {
      rows[missing[m]] = cache_[keys[missing[m]]] = fresh[static_cast<int64_t>(m)];
    }
  }
  return torch::stack(rows);
}

TrainingState::TrainingState(const TedLocConfig& config, TedLocNet trained, std::int64_t seed)
    : net(std::move(trained)),
      optimizer(net->parameters(),
                torch::optim::SGDOptions(config.lr).momentum(config.momentum).weight_decay(config.weight_decay)),
      cell_generator(at::detail::createCPUGenerator(static_cast<std::uint64_t>(seed) * 7919 + 17)) {}

void save_checkpoint(const std::string& path, TrainingState& state) {
  torch::serialize::OutputArchive out, net_out, optimizer_out;
  state.net->save(net_out);
  state.optimizer.save(optimizer_out);
  out.write("net", net_out);
  out.write("optimizer", optimizer_out);
  out.write("cell_generator", state.cell_generator.get_state());
  out.write("next_epoch", torch::tensor(static_cast<int64_t>(state.next_epoch)));
  out.write("best_epoch", torch::tensor(static_cast<int64_t>(state.best_epoch)));
  out.write("best_score", torch::tensor(state.best_score, torch::kDouble));
  save_atomically(out, path);
}

bool load_checkpoint(const std::string& path, TrainingState& state, c10::Device device) {
  if (!std::filesystem::exists(path)) return false;
  torch::serialize::InputArchive in, net_in, optimizer_in;
  in.load_from(path, device);
  in.read("net", net_in);
  state.net->load(net_in);
  in.read("optimizer", optimizer_in);
  state.optimizer.load(optimizer_in);
  // A fresh tensor per key: reading into a defined tensor writes into it (set_), and one tensor reused
  // across keys of other dtypes read best_score wrong, so a resumed run chose another best epoch.
  const auto read = [&](const char* key) {
    torch::Tensor value;
    in.read(key, value);
    return value;
  };
  state.cell_generator.set_state(read("cell_generator").cpu());
  state.next_epoch = static_cast<int>(read("next_epoch").item<int64_t>());
  state.best_epoch = static_cast<int>(read("best_epoch").item<int64_t>());
  state.best_score = read("best_score").item<double>();
  return true;
}

void save_net(const std::string& path, TedLocNet& net) {
  torch::serialize::OutputArchive out;
  net->save(out);
  save_atomically(out, path);
}

void load_net(const std::string& path, TedLocNet& net, c10::Device device) {
  torch::serialize::InputArchive in;
  in.load_from(path, device);
  net->load(in);
}

EpochResult train_epoch(TrainingState& state, const TedLocConfig& config, EpochInputs& in) {
  const int epoch = state.next_epoch;
  for (auto& group : state.optimizer.param_groups()) {
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(learning_rate(config, epoch));
  }
  state.net->train();
  in.loader.start_epoch(epoch);
  EpochResult result;
  std::map<std::string, double> sums;
  const auto t0 = std::chrono::steady_clock::now();
  Progress bar(fmt::format("epoch {}/{}", epoch + 1, config.epochs), in.loader.size(), in.show_progress);
  while (auto batch = in.loader.next()) {
    const torch::Tensor z = state.net->decoder->forward(in.tokens.tokens(*batch), in.grid_h, in.grid_w);
    const torch::Tensor g_logits = state.net->head->forward(z);
    std::vector<Candidates> candidates;
    for (std::size_t b = 0; b < batch->indices.size(); ++b) {
      candidates.push_back(candidate_cells(augmented_cam(in.cams[batch->indices[b]], batch->keys[b]), in.candidates));
    }
    const CellSample cells = sample_cells(candidates, config.cells_per_image, state.cell_generator);
    const tedloc::LossTerms terms = in.loss.compute({z, g_logits, in.anchors, batch->labels.to(in.device),
                                             cells.fg.to(in.device), cells.bg.to(in.device)});
    const double total = terms.total.item<double>();
    if (!std::isfinite(total)) {
      result.diverged = fmt::format("loss is {} at epoch {} step {}", total, epoch, result.steps);
      result.diverged_loss = total;
      return result;
    }
    state.optimizer.zero_grad();
    terms.total.backward();
    state.optimizer.step();
    sums["loss"] += total;
    for (const auto& [name, value] : terms.terms) sums["loss_" + name] += value.item<double>();
    ++result.steps;
    result.images += static_cast<int64_t>(batch->indices.size());
    bar.update(result.images, fmt::format("loss {:.4f}", sums["loss"] / result.steps));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& [name, sum] : sums) result.mean[name] = sum / std::max<int64_t>(1, result.steps);
  bar.finish(fmt::format("loss {:.4f}", result.steps ? result.mean["loss"] : 0.0));
  return result;
}

}  // namespace tedloc::method
