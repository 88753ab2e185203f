// The `tedloc` task: train D and g on CAM pseudo-labels with frozen text anchors, select the epoch on val
// MaxBoxAcc, evaluate on test without class labels (paper sec. 3 and 4.1; DESIGN.md "The method, precisely").
#include <chrono>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <torch/torch.h>

#include "tedloc/eval/npy.hpp"
#include "tedloc/host.hpp"
#include "tedloc/method/training.hpp"
#include "tedloc/plugin/anchor_transform.hpp"
#include "tedloc/plugin/cam_source.hpp"
#include "tedloc/tasks.hpp"
#include "tedloc/util.hpp"

namespace tedloc::method {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// A test image whose map is kept for a figure.
struct Overlay {
  std::size_t index;
  torch::Tensor map;  // [h, w], any range
};

// Writes each overlay's map (.npy, 224 x 224 in [0, 1]) and a JSON with the image, its GT boxes and the box
// predicted at `threshold`, all in the image's pixels; each JSON is recorded as an artifact "overlay".
void write_overlays(RunContext& ctx, const std::vector<Overlay>& overlays, double threshold,
                    const eval::SplitMetadata& split, const std::string& image_root) {
  const std::string dir = ctx.plugin.work_dir + "/overlays";
  fs::create_directories(dir);
  eval::ContourSweep sweep;
  for (std::size_t n = 0; n < overlays.size(); ++n) {
    const std::size_t i = overlays[n].index;
    const torch::Tensor map = resize_min_max(overlays[n].map.unsqueeze(0).to(torch::kFloat), 224, 224)[0].contiguous();
    const std::string npy = fmt::format("{}/{}.npy", dir, n);
    eval::write_npy_f32(npy, map.data_ptr<float>(), 224, 224);
    const torch::Tensor as_double = map.to(torch::kDouble).contiguous();
    const auto q = eval::quantize_scoremap(as_double.data_ptr<double>(), 224, 224, npy);
    const eval::Box box = sweep.boxes(q, {threshold}, false).at(0).at(0);
    const eval::ImageSize size = split.image_sizes.at(i);
    auto scale = [&](int v, int extent) { return static_cast<int>(std::lround(v * extent / 224.0)); };
    json gt = json::array();
    for (const auto& g : split.boxes.at(i)) gt.push_back({g.x0, g.y0, g.x1, g.y1});
    // Paths as the figures read them: relative ones from this JSON's folder, so the map by its name and the
    // image (given relative to where the grid ran) absolute.
    const json record = {{"image", fs::absolute(fs::path(image_root) / split.image_ids[i]).lexically_normal().string()},
                         {"map", fs::path(npy).filename().string()},
                         {"gt_boxes", gt},
                         {"pred_box", {scale(box.x0, size.width), scale(box.y0, size.height), scale(box.x1, size.width),
                                       scale(box.y1, size.height)}},
                         {"label", split.class_labels.empty() ? std::string() : std::to_string(split.class_labels[i])}};
    const std::string path = fmt::format("{}/{}.json", dir, n);
    std::ofstream(path) << record.dump(2);
    ctx.add_artifact("overlay", path);
  }
}

// Multiply-accumulates of D and g per image, counted layer by layer from their options.
double decoder_head_macs(const DecoderOptions& d, const PatchHeadOptions& g, int64_t gh, int64_t gw) {
  double macs = static_cast<double>(gh * gw) * d.in_channels() * d.width();
  int64_t h = gh, w = gw;
  for (int64_t s = 0; s < d.upsample_stages(); ++s) {
    h *= 2;
    w *= 2;
    macs += static_cast<double>(h * w) * d.width() * d.width() * 9;
  }
  macs += static_cast<double>(h * w) * d.width() * d.out_channels();
  macs += static_cast<double>(h * w) * (g.hidden() > 0 ? d.out_channels() * g.hidden() + g.hidden() : d.out_channels());
  return macs;
}

// The CAM of every train image for its true class, once, at the eval size: the pseudo-labels' source.
std::vector<torch::Tensor> compute_cams(RunContext& ctx, const WsolDataset& data,
                                        const data::TransformOptions& transform, int threads) {
  auto cam = ctx.make<CamSource>("cam");
  data::LoaderOptions o;
  o.transform = transform;
  o.batch_size = 16;
  o.shuffle = false;
  o.num_threads = threads;
  data::ImageLoader loader(data.train, data.image_root, o);
  std::vector<torch::Tensor> cams(data.train.size());
  Progress bar("pseudo-label CAMs", loader.size(), ctx.show_progress);
  loader.start_epoch(0);
  int64_t done = 0;
  while (auto batch = loader.next()) {
    std::vector<std::string> ids;
    for (auto i : batch->indices) ids.push_back(data.train[static_cast<std::size_t>(i)].id);
    const torch::Tensor maps =
        cam->cams({batch->images.to(ctx.plugin.device), batch->labels.to(ctx.plugin.device), ids}).detach();
    if (maps.dim() != 3 || maps.size(0) != static_cast<int64_t>(ids.size())) {
      throw InputError(fmt::format("the cam source returned shape {}, expected [{}, h, w]", c10::str(maps.sizes()), ids.size()));
    }
    const torch::Tensor full = resize_min_max(maps.to(torch::kCPU, torch::kFloat), transform.crop_size, transform.crop_size);
    for (std::size_t b = 0; b < ids.size(); ++b) cams[batch->indices[b]] = full[static_cast<int64_t>(b)].clone();
    done += static_cast<int64_t>(ids.size());
    bar.update(done);
  }
  bar.finish();
  return cams;
}

// What the run's evaluations share: the frozen parts, and where maps of test images are kept for figures.
struct Evaluator {
  RunContext& ctx;
  Encoder& encoder;
  const torch::Tensor& anchors;
  const WsolDataset& data;

  // Maps and class scores of a split. map_mode "" = g's map; "gt" / "pred" = <z_p, t_c> for the true /
  // predicted class (Table 4). The first `keep` maps go to `overlays`.
  SplitScores evaluate_split(TedLocNet& net, const eval::SplitMetadata& split, double interval,
                             std::vector<Overlay>* overlays = nullptr, const std::string& map_mode = "",
                             int keep = 0) const {
    torch::NoGradGuard no_grad;
    net->eval();
    const Params& p = ctx.params;
    return score_split(split, data.image_root, transform_options(p, false), p.get<int>("eval.batch_size"),
                       p.get<int>("data.threads"), interval, [&](const data::Batch& batch) {
      const TedLocOutput out = net->forward(encoder.tokens(batch.images.to(ctx.plugin.device)), encoder.grid_h,
                                            encoder.grid_w, anchors);
      torch::Tensor maps;
      if (map_mode.empty()) {
        maps = torch::sigmoid(out.g_logits);
      } else {
        const torch::Tensor classes = map_mode == "gt" ? batch.labels.to(ctx.plugin.device) : out.scores.argmax(1);
        maps = class_dot_map(out.z, anchors, classes);
      }
      for (std::size_t b = 0; overlays && b < batch.indices.size() && static_cast<int>(overlays->size()) < keep; ++b) {
        overlays->push_back({static_cast<std::size_t>(batch.indices[b]), maps[static_cast<int64_t>(b)].cpu().clone()});
      }
      return MapBatch{maps, out.scores};
    });
  }

  // Model selection's figure of an epoch: val MaxBoxAcc at IoU 50 (and the CL curve beside it).
  double select_on_val(TedLocNet& net, int epoch, double loss) const {
    const SplitScores val = evaluate_split(net, data.val, ctx.params.get<double>("eval.interval"));
    const double acc = eval::summarize(val.single).per_iou[1].max_box_acc;
    const double cl = eval::top1_cl_accuracy(val.single);
    ctx.log_metric("val", "maxboxacc_50", acc, epoch);
    ctx.log_metric("val", "cl_top1", cl, epoch);
    ctx.log(fmt::format("epoch {}: loss {:.4f}, val MaxBoxAcc {:.2f}, val CL {:.2f}", epoch + 1, loss, acc, cl));
    return acc;
  }

  // The selected net on val and test at the reporting interval: g's map with val's threshold, the <z_p, t_c>
  // maps (Table 4) under the same protocol, and the overlays of the first test images.
  void final_metrics(TedLocNet& net, int keep_overlays) const {
    const double interval = ctx.params.get<double>("eval.test_interval");
    const SplitScores val = evaluate_split(net, data.val, interval);
    const std::size_t operating = eval::operating_index(val.single);
    log_split_metrics(ctx.log_metric, "val", val);
    std::vector<Overlay> overlays;
    log_split_metrics(ctx.log_metric, "test", evaluate_split(net, data.test, interval, &overlays, "", keep_overlays),
                      &operating);
    for (const char* mode : {"gt", "pred"}) {
      const SplitScores dot_val = evaluate_split(net, data.val, interval, nullptr, mode);
      const SplitScores dot = evaluate_split(net, data.test, interval, nullptr, mode);
      const eval::LocalizationAt at = eval::localization_at(dot.single, eval::operating_index(dot_val.single));
      ctx.log_metric("test", fmt::format("dot_{}_maxboxacc_50", mode), eval::summarize(dot.single).per_iou[1].max_box_acc, -1);
      ctx.log_metric("test", fmt::format("dot_{}_top1_loc", mode), at.top1_loc, -1);
      ctx.log_metric("test", fmt::format("dot_{}_top5_loc", mode), at.top5_loc, -1);
    }
    write_overlays(ctx, overlays, val.single.cam_thresholds[operating], data.test, data.image_root);
  }
};

// Table 6's figures: parameter counts, D+g multiply-accumulates, batch-1 latency of the whole inference.
void log_model_metrics(RunContext& ctx, TedLocNet& net, Encoder& encoder, const torch::Tensor& anchors,
                       int best_epoch, int latency_steps) {
  int64_t trainable = 0;
  for (const auto& t : net->parameters()) trainable += t.numel();
  ctx.log_metric("model", "params_trainable", static_cast<double>(trainable), -1);
  ctx.log_metric("model", "params_encoder", static_cast<double>(encoder.parameters), -1);
  ctx.log_metric("model", "macs_decoder_head",
                 decoder_head_macs(net->options.decoder(), net->options.head(), encoder.grid_h, encoder.grid_w), -1);
  ctx.log_metric("model", "best_epoch", best_epoch, -1);
  if (latency_steps <= 0) return;
  torch::NoGradGuard no_grad;
  net->eval();
  const int size = ctx.params.get<int>("data.size");
  const torch::Tensor image = torch::randn({1, 3, size, size}, ctx.plugin.device);
  auto once = [&] {
    const TedLocOutput out = net->forward(encoder.tokens(image), encoder.grid_h, encoder.grid_w, anchors);
    return localization_map(out.g_logits, size, size).sum().item<double>() + out.scores.sum().item<double>();
  };
  for (int i = 0; i < std::min(latency_steps, 5); ++i) once();  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < latency_steps; ++i) once();
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / latency_steps;
  ctx.log_metric("model", "latency_ms", ms, -1);
}

// The frozen text anchors: the class text embeddings through the anchor transform plugin.
torch::Tensor make_anchors(RunContext& ctx, const std::vector<std::string>& class_names) {
  const torch::Tensor text = class_text_embeddings(ctx.params, class_names);
  ctx.plugin.class_embeddings = text.to(ctx.plugin.device);
  const Anchors result = ctx.make<AnchorTransform>("anchors")->transform(text);
  ctx.log("anchors: " + result.case_name);
  ctx.add_artifact("anchors_case", result.case_name);
  return result.anchors.to(ctx.plugin.device, torch::kFloat);
}

data::ImageLoader train_loader(const RunContext& ctx, const WsolDataset& data, const TedLocConfig& config) {
  data::LoaderOptions o;
  o.transform = transform_options(ctx.params, true);
  o.batch_size = config.batch_size;
  o.seed = static_cast<std::uint64_t>(ctx.seed);
  o.num_threads = ctx.params.get<int>("data.threads");
  o.pin_memory = ctx.plugin.device.is_cuda();
  return data::ImageLoader(data.train, data.image_root, o);
}

void log_setup(RunContext& ctx, const Encoder& encoder, const WsolDataset& data) {
  ctx.log(fmt::format("{}: {} x {} grid of {}-d tokens; {} train / {} val / {} test images, {} classes",
                      encoder.description, encoder.grid_h, encoder.grid_w, encoder.width, data.train.size(),
                      data.val.image_ids.size(), data.test.image_ids.size(), data.class_names.size()));
}

// The epoch's train metrics; the run's outcome when its loss diverged.
std::optional<RunOutcome> record_epoch(RunContext& ctx, int epoch, const EpochResult& result) {
  if (result.diverged) {
    ctx.log_metric("train", "loss", result.diverged_loss, epoch);
    return RunOutcome{RunStatus::Diverged, *result.diverged};
  }
  for (const auto& [name, mean] : result.mean) ctx.log_metric("train", name, mean, epoch);
  ctx.log_metric("train", "images_per_s", result.images / std::max(result.seconds, 1e-9), epoch);
  return std::nullopt;
}

struct TedLocTask final : Task {
  explicit TedLocTask(const Params&) {}

  RunOutcome run(RunContext& ctx) override {
    const TedLocConfig config = tedloc_config_fields().read(ctx.params);
    const c10::Device device = ctx.plugin.device;
    const WsolDataset data = load_wsol_dataset(ctx.params);
    ctx.plugin.class_names = data.class_names;
    Encoder encoder = make_encoder(ctx.params, ctx.params.get<int>("data.size"), device);
    log_setup(ctx, encoder, data);
    const torch::Tensor anchors = make_anchors(ctx, data.class_names);
    const std::vector<torch::Tensor> cams = compute_cams(ctx, data, transform_options(ctx.params, false),
                                                         ctx.params.get<int>("data.threads"));
    TrainingState state(config, TedLocNet(net_options(config, encoder.width, anchors.size(1))), ctx.seed);
    state.net->to(device);
    const std::string last = ctx.plugin.work_dir + "/last.pt", best = ctx.plugin.work_dir + "/best.pt";
    if (load_checkpoint(last, state, device)) ctx.log(fmt::format("resumed from {} at epoch {}", last, state.next_epoch));
    data::ImageLoader loader = train_loader(ctx, data, config);
    TokenCache tokens(encoder, device, config.cache_tokens == "memory");
    auto loss = ctx.make<LossSet>("loss");
    EpochInputs in{loader, tokens, cams, {state.net->cells(encoder.grid_h), state.net->cells(encoder.grid_w),
                   config.n_pos, config.n_neg}, *loss, anchors, encoder.grid_h, encoder.grid_w, device,
                   ctx.show_progress};
    const Evaluator evaluator{ctx, encoder, anchors, data};
    while (state.next_epoch < config.epochs) {
      const int epoch = state.next_epoch;
      const EpochResult result = train_epoch(state, config, in);
      if (auto diverged = record_epoch(ctx, epoch, result)) return *diverged;
      const double acc = evaluator.select_on_val(state.net, epoch, result.mean.count("loss") ? result.mean.at("loss") : 0.0);
      if (acc > state.best_score) {
        state.best_score = acc;
        state.best_epoch = epoch;
        save_net(best, state.net);
      }
      state.next_epoch = epoch + 1;
      save_checkpoint(last, state);
    }
    ctx.add_artifact("checkpoint", best);
    load_net(best, state.net, device);
    evaluator.final_metrics(state.net, config.overlays);
    log_model_metrics(ctx, state.net, encoder, anchors, state.best_epoch, config.latency_steps);
    return {};
  }
};

}  // namespace

void register_tedloc_task(PluginRegistrar& registrar) {
  std::vector<ParamDecl> params = data_params();
  for (const auto& group : {encoder_params(), text_params(), eval_params(), tedloc_config_fields().decls()}) {
    params.insert(params.end(), group.begin(), group.end());
  }
  registrar.add<Task, TedLocTask>({"tedloc", "1.0.0",
                                   "TeD-Loc: train D and g on CAM pseudo-labels with text anchors, select on val "
                                   "MaxBoxAcc, evaluate on test (no class label at test time)",
                                   params});
}

}  // namespace tedloc::method
