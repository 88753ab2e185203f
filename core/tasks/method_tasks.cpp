// The method's tasks: `tedloc` (train D and g, select on val, evaluate on test) and `baseline_eval`
// (score a training-free baseline plugin under the same protocol). One grid cell runs one of them.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <fmt/format.h>
#include <torch/torch.h>

#include "tedloc/eval/npy.hpp"
#include "tedloc/host.hpp"
#include "tedloc/method/inference.hpp"
#include "tedloc/method/losses.hpp"
#include "tedloc/method/modules.hpp"
#include "tedloc/method/pseudo_labels.hpp"
#include "tedloc/method/wsol_run.hpp"
#include "tedloc/plugin/anchor_transform.hpp"
#include "tedloc/plugin/baseline.hpp"
#include "tedloc/plugin/cam_source.hpp"
#include "tedloc/plugin/loss_set.hpp"
#include "tedloc/util.hpp"

namespace tedloc::method {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

data::TransformOptions transform_of(const Params& p, bool train) {
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

// Writes a checkpoint so that a crash never leaves a half-written file: write aside, then rename.
void save_atomically(torch::serialize::OutputArchive& archive, const std::string& path) {
  archive.save_to(path + ".tmp");
  fs::rename(path + ".tmp", path);
}

std::vector<ParamDecl> tedloc_params() {
  std::vector<ParamDecl> p = data_params();
  for (auto group : {encoder_params(), text_params(), eval_params()}) p.insert(p.end(), group.begin(), group.end());
  const std::vector<ParamDecl> own = {
      {"anchors", ParamType::Plugin, "qr", "anchor transform of the class text embeddings", false, {}, "anchor_transform"},
      {"cam", ParamType::Plugin, nullptr, "CAM source of the pseudo-labels (train images, true class)", true, {}, "cam_source"},
      {"loss", ParamType::Plugin, "kd_pcl_icl", "the loss set", false, {}, "loss_set"},
      {"decoder.width", ParamType::Int, 256, "channels inside the decoder D"},
      {"decoder.stages", ParamType::Int, 2, "x2 upsampling stages of D (14x14 -> 56x56 with 2)"},
      {"decoder.norm", ParamType::String, "group", "normalisation in D", false, {"group", "batch", "none"}},
      {"head.hidden", ParamType::Int, 0, "hidden width of g (0: linear)"},
      {"pseudo.n_pos", ParamType::Int, 100, "n+: FG candidate cells (highest CAM)"},
      {"pseudo.n_neg", ParamType::Int, 100, "n-: BG candidate cells (lowest CAM outside Otsu FG)"},
      {"pseudo.s", ParamType::Int, 10, "FG and BG cells drawn per image and step"},
      {"train.epochs", ParamType::Int, 10, "epochs"},
      {"train.batch_size", ParamType::Int, 16, "batch size"},
      {"train.lr", ParamType::Float, 0.01, "SGD learning rate"},
      {"train.momentum", ParamType::Float, 0.9, "SGD momentum"},
      {"train.weight_decay", ParamType::Float, 1e-4, "SGD weight decay"},
      {"train.schedule", ParamType::String, "cosine", "learning-rate schedule", false, {"cosine", "step", "none"}},
      {"train.step_size", ParamType::Int, 10, "step schedule: epochs between decays"},
      {"train.gamma", ParamType::Float, 0.1, "step schedule: decay factor"},
      {"cache.tokens", ParamType::String, "memory", "cache the frozen encoder's tokens per image and augmentation",
       false, {"none", "memory"}},
      {"output.overlays", ParamType::Int, 8, "test images whose map overlay is recorded (artifact 'overlay')"},
      {"eval.latency_steps", ParamType::Int, 20, "timed batch-1 inferences for latency_ms (0: skip)"},
  };
  p.insert(p.end(), own.begin(), own.end());
  return p;
}

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

struct Model {
  Decoder decoder{nullptr};
  PatchHead head{nullptr};
  std::vector<torch::Tensor> parameters() const {
    auto p = decoder->parameters();
    for (auto& t : head->parameters()) p.push_back(t);
    return p;
  }
};

double learning_rate(const Params& p, int epoch) {
  const double lr = p.get<double>("train.lr");
  const std::string schedule = p.get<std::string>("train.schedule");
  if (schedule == "cosine") return 0.5 * lr * (1 + std::cos(M_PI * epoch / std::max(1, p.get<int>("train.epochs"))));
  if (schedule == "step") return lr * std::pow(p.get<double>("train.gamma"), epoch / std::max(1, p.get<int>("train.step_size")));
  return lr;
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

struct TedLocTask final : Task {
  explicit TedLocTask(const Params&) {}

  RunOutcome run(RunContext& ctx) override {
    const Params& p = ctx.params;
    const c10::Device device = ctx.plugin.device;
    const WsolDataset data = load_wsol_dataset(p);
    ctx.plugin.class_names = data.class_names;
    const int size = p.get<int>("data.size");
    const int threads = p.get<int>("data.threads");
    Encoder encoder = make_encoder(p, size, device);
    ctx.log(fmt::format("{}: {} x {} grid of {}-d tokens; {} train / {} val / {} test images, {} classes",
                        encoder.description, encoder.grid_h, encoder.grid_w, encoder.width, data.train.size(),
                        data.val.image_ids.size(), data.test.image_ids.size(), data.class_names.size()));

    // Frozen text anchors.
    const torch::Tensor text = class_text_embeddings(p, data.class_names);
    ctx.plugin.class_embeddings = text.to(device);
    const Anchors anchors_result = ctx.make<AnchorTransform>("anchors")->transform(text);
    const torch::Tensor anchors = anchors_result.anchors.to(device, torch::kFloat);
    ctx.log("anchors: " + anchors_result.note);
    ctx.add_artifact("anchors_case", anchors_result.note);

    // Pseudo-label sources: one CAM per training image (true class), computed once.
    std::vector<torch::Tensor> cams = compute_cams(ctx, data, transform_of(p, false), threads);

    // D and g.
    DecoderOptions dopt(encoder.width, anchors.size(1));
    dopt.width(p.get<int64_t>("decoder.width")).upsample_stages(p.get<int64_t>("decoder.stages"));
    const std::string norm = p.get<std::string>("decoder.norm");
    dopt.norm(norm == "group" ? DecoderNorm::kGroup : norm == "batch" ? DecoderNorm::kBatch : DecoderNorm::kNone);
    dopt.groups(std::min<int64_t>(8, dopt.width()));
    PatchHeadOptions gopt(anchors.size(1));
    gopt.hidden(p.get<int64_t>("head.hidden"));
    Model model{Decoder(dopt), PatchHead(gopt)};
    model.decoder->to(device);
    model.head->to(device);
    const int64_t grid_h = encoder.grid_h << dopt.upsample_stages(), grid_w = encoder.grid_w << dopt.upsample_stages();
    torch::optim::SGD optimizer(model.parameters(), torch::optim::SGDOptions(p.get<double>("train.lr"))
                                                        .momentum(p.get<double>("train.momentum"))
                                                        .weight_decay(p.get<double>("train.weight_decay")));
    auto loss_set = ctx.make<LossSet>("loss");

    // Resume from the last checkpoint of this run, if a previous attempt left one.
    const std::string last_path = ctx.plugin.work_dir + "/last.pt", best_path = ctx.plugin.work_dir + "/best.pt";
    int start_epoch = 0, best_epoch = -1;
    double best_acc = -1;
    if (fs::exists(last_path)) {
      torch::serialize::InputArchive in;
      in.load_from(last_path, device);
      model.decoder->load(in);
      torch::serialize::InputArchive head_in, opt_in;
      in.read("head", head_in);
      model.head->load(head_in);
      in.read("optimizer", opt_in);
      optimizer.load(opt_in);
      torch::Tensor state;
      in.read("epoch", state);
      start_epoch = static_cast<int>(state.item<int64_t>()) + 1;
      in.read("best_acc", state);
      best_acc = state.item<double>();
      in.read("best_epoch", state);
      best_epoch = static_cast<int>(state.item<int64_t>());
      ctx.log(fmt::format("resumed from {} at epoch {}", last_path, start_epoch));
    }

    data::LoaderOptions lopt;
    lopt.transform = transform_of(p, true);
    lopt.batch_size = p.get<int>("train.batch_size");
    lopt.seed = static_cast<std::uint64_t>(ctx.seed);
    lopt.num_threads = threads;
    lopt.pin_memory = device.is_cuda();
    data::ImageLoader loader(data.train, data.image_root, lopt);
    CandidateOptions copt;
    copt.grid_h = grid_h;
    copt.grid_w = grid_w;
    copt.n_pos = p.get<int64_t>("pseudo.n_pos");
    copt.n_neg = p.get<int64_t>("pseudo.n_neg");
    const int64_t s = p.get<int64_t>("pseudo.s");
    torch::Generator generator = at::detail::createCPUGenerator(static_cast<std::uint64_t>(ctx.seed) * 7919 + 17);
    std::map<std::string, torch::Tensor> token_cache;
    const bool cache = p.get<std::string>("cache.tokens") == "memory";
    auto tokens_of = [&](const data::Batch& batch) {
      torch::NoGradGuard no_grad;
      if (!cache) return encoder.tokens(batch.images.to(device, /*non_blocking=*/true));
      std::vector<torch::Tensor> rows(batch.indices.size());
      std::vector<int64_t> missing;
      std::vector<std::string> keys;
      for (std::size_t b = 0; b < rows.size(); ++b) {
        keys.push_back(std::to_string(batch.indices[b]) + "|" + batch.keys[b].str());
        auto it = token_cache.find(keys.back());
        if (it != token_cache.end()) rows[b] = it->second;
        else missing.push_back(static_cast<int64_t>(b));
      }
      if (!missing.empty()) {
        auto fresh = encoder.tokens(batch.images.index_select(0, torch::tensor(missing)).to(device));
        for (std::size_t m = 0; m < missing.size(); ++m) {
          rows[missing[m]] = token_cache[keys[missing[m]]] = fresh[static_cast<int64_t>(m)];
        }
      }
      return torch::stack(rows);
    };

    const int epochs = p.get<int>("train.epochs");
    for (int epoch = start_epoch; epoch < epochs; ++epoch) {
      for (auto& group : optimizer.param_groups()) {
        static_cast<torch::optim::SGDOptions&>(group.options()).lr(learning_rate(p, epoch));
      }
      model.decoder->train();
      model.head->train();
      loader.start_epoch(epoch);
      std::map<std::string, double> sums;
      int64_t steps = 0, seen = 0;
      const auto t0 = std::chrono::steady_clock::now();
      Progress bar(fmt::format("epoch {}/{}", epoch + 1, epochs), loader.size(), ctx.show_progress);
      while (auto batch = loader.next()) {
        if (ctx.stop_requested && *ctx.stop_requested) throw Interrupted();
        const torch::Tensor tokens = tokens_of(*batch);
        const torch::Tensor z = model.decoder->forward(tokens, encoder.grid_h, encoder.grid_w);
        const torch::Tensor g_logits = model.head->forward(z);
        std::vector<Candidates> candidates;
        for (std::size_t b = 0; b < batch->indices.size(); ++b) {
          candidates.push_back(candidate_cells(augmented_cam(cams[batch->indices[b]], batch->keys[b]), copt));
        }
        const CellSample cells = sample_cells(candidates, s, generator);
        const tedloc::LossTerms terms = loss_set->compute({z, g_logits, anchors, batch->labels.to(device),
                                                   cells.fg.to(device), cells.bg.to(device)});
        const double total = terms.total.item<double>();
        if (!std::isfinite(total)) {
          ctx.log_metric("train", "loss", total, epoch);
          return {RunStatus::Diverged, fmt::format("loss is {} at epoch {} step {}", total, epoch, steps)};
        }
        optimizer.zero_grad();
        terms.total.backward();
        optimizer.step();
        sums["loss"] += total;
        for (const auto& [name, value] : terms.terms) sums["loss_" + name] += value.item<double>();
        ++steps;
        seen += static_cast<int64_t>(batch->indices.size());
        bar.update(seen, fmt::format("loss {:.4f}", sums["loss"] / steps));
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bar.finish(fmt::format("loss {:.4f}", steps ? sums["loss"] / steps : 0.0));
      for (const auto& [name, sum] : sums) ctx.log_metric("train", name, sum / std::max<int64_t>(1, steps), epoch);
      ctx.log_metric("train", "images_per_s", seen / std::max(seconds, 1e-9), epoch);

      // Model selection on val by localization (MaxBoxAcc at IoU 50), the CL curve kept beside it.
      const SplitScores val = evaluate(ctx, model, encoder, anchors, data.val, data.image_root, p.get<double>("eval.interval"));
      const double acc = eval::summarize(val.single).per_iou[1].max_box_acc;
      const double cl = eval::top1_cl_accuracy(val.single);
      ctx.log_metric("val", "maxboxacc_50", acc, epoch);
      ctx.log_metric("val", "cl_top1", cl, epoch);
      ctx.log(fmt::format("epoch {}: loss {:.4f}, val MaxBoxAcc {:.2f}, val CL {:.2f}", epoch + 1,
                          sums["loss"] / std::max<int64_t>(1, steps), acc, cl));
      torch::serialize::OutputArchive out, head_out, opt_out;
      model.decoder->save(out);
      model.head->save(head_out);
      out.write("head", head_out);
      if (acc > best_acc) {
        best_acc = acc;
        best_epoch = epoch;
        save_atomically(out, best_path);
      }
      optimizer.save(opt_out);
      out.write("optimizer", opt_out);
      out.write("epoch", torch::tensor(static_cast<int64_t>(epoch)));
      out.write("best_acc", torch::tensor(best_acc, torch::kDouble));
      out.write("best_epoch", torch::tensor(static_cast<int64_t>(best_epoch)));
      save_atomically(out, last_path);
    }
    ctx.add_artifact("checkpoint", best_path);

    // The selected epoch on val and test, at the reporting interval.
    torch::serialize::InputArchive in, head_in;
    in.load_from(best_path, device);
    model.decoder->load(in);
    in.read("head", head_in);
    model.head->load(head_in);
    const double interval = p.get<double>("eval.test_interval");
    const SplitScores val = evaluate(ctx, model, encoder, anchors, data.val, data.image_root, interval);
    const std::size_t operating = eval::operating_index(val.single);
    log_split_metrics(ctx.log_metric, "val", val);
    std::vector<Overlay> overlays;
    const SplitScores test =
        evaluate(ctx, model, encoder, anchors, data.test, data.image_root, interval, &overlays);
    log_split_metrics(ctx.log_metric, "test", test, &operating);
    for (const char* mode : {"gt", "pred"}) {
      // The <z_p, t_c> map under the same protocol as g's: its own threshold chosen on val, applied to test.
      const SplitScores dot_val = evaluate(ctx, model, encoder, anchors, data.val, data.image_root, interval, nullptr, mode);
      const SplitScores dot = evaluate(ctx, model, encoder, anchors, data.test, data.image_root, interval, nullptr, mode);
      const eval::LocalizationAt at = eval::localization_at(dot.single, eval::operating_index(dot_val.single));
      ctx.log_metric("test", fmt::format("dot_{}_maxboxacc_50", mode), eval::summarize(dot.single).per_iou[1].max_box_acc, -1);
      ctx.log_metric("test", fmt::format("dot_{}_top1_loc", mode), at.top1_loc, -1);
      ctx.log_metric("test", fmt::format("dot_{}_top5_loc", mode), at.top5_loc, -1);
    }
    write_overlays(ctx, overlays, val.single.cam_thresholds[operating], data.test, data.image_root);
    log_model_metrics(ctx, model, encoder, anchors, dopt, gopt, best_epoch);
    return {};
  }

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

  // Maps and class scores of a split. map_mode "" = g's map; "gt" / "pred" = <z_p, t_c> for the true /
  // predicted class (Table 4).
  SplitScores evaluate(RunContext& ctx, Model& model, Encoder& encoder, const torch::Tensor& anchors,
                       const eval::SplitMetadata& split, const std::string& root, double interval,
                       std::vector<Overlay>* overlays = nullptr, const std::string& map_mode = "") {
    torch::NoGradGuard no_grad;
    model.decoder->eval();
    model.head->eval();
    const Params& p = ctx.params;
    const int want = p.get<int>("output.overlays");
    return score_split(split, root, transform_of(p, false), p.get<int>("eval.batch_size"), p.get<int>("data.threads"),
                       interval, [&](const data::Batch& batch) {
      const torch::Tensor tokens = encoder.tokens(batch.images.to(ctx.plugin.device));
      const TedLocOutput out = tedloc_forward(model.decoder, model.head, tokens, encoder.grid_h, encoder.grid_w, anchors);
      torch::Tensor maps;
      if (map_mode.empty()) {
        maps = torch::sigmoid(out.g_logits);
      } else {
        const torch::Tensor classes = map_mode == "gt" ? batch.labels.to(ctx.plugin.device) : out.scores.argmax(1);
        maps = class_dot_map(out.z, anchors, classes);
      }
      for (std::size_t b = 0; overlays && b < batch.indices.size() && static_cast<int>(overlays->size()) < want; ++b) {
        overlays->push_back({static_cast<std::size_t>(batch.indices[b]), maps[static_cast<int64_t>(b)].cpu().clone()});
      }
      return MapBatch{maps, out.scores};
    });
  }

  // Table 6's figures: parameter counts, D+g multiply-accumulates, batch-1 latency of the whole inference.
  void log_model_metrics(RunContext& ctx, Model& model, Encoder& encoder, const torch::Tensor& anchors,
                         const DecoderOptions& dopt, const PatchHeadOptions& gopt, int best_epoch) {
    int64_t trainable = 0;
    for (const auto& t : model.parameters()) trainable += t.numel();
    ctx.log_metric("model", "params_trainable", static_cast<double>(trainable), -1);
    ctx.log_metric("model", "params_encoder", static_cast<double>(encoder.parameters), -1);
    ctx.log_metric("model", "macs_decoder_head", decoder_head_macs(dopt, gopt, encoder.grid_h, encoder.grid_w), -1);
    ctx.log_metric("model", "best_epoch", best_epoch, -1);
    const int steps = ctx.params.get<int>("eval.latency_steps");
    if (steps <= 0) return;
    torch::NoGradGuard no_grad;
    const int size = ctx.params.get<int>("data.size");
    const torch::Tensor image = torch::randn({1, 3, size, size}, ctx.plugin.device);
    auto once = [&] {
      const TedLocOutput out = tedloc_forward(model.decoder, model.head, encoder.tokens(image), encoder.grid_h,
                                              encoder.grid_w, anchors);
      return localization_map(out.g_logits, size, size).sum().item<double>() + out.scores.sum().item<double>();
    };
    for (int i = 0; i < std::min(steps, 5); ++i) once();  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) once();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / steps;
    ctx.log_metric("model", "latency_ms", ms, -1);
  }
};

}  // namespace
}  // namespace tedloc::method

namespace tedloc::method {
namespace {

// Scores a training-free baseline plugin (CLIP variants, CLIP-ES) like TeD-Loc: threshold chosen on val,
// applied to test; class scores give CL and Top-k Loc.
struct BaselineTask final : Task {
  explicit BaselineTask(const Params&) {}
  RunOutcome run(RunContext& ctx) override {
    const Params& p = ctx.params;
    const WsolDataset data = load_wsol_dataset(p);
    ctx.plugin.class_names = data.class_names;
    ctx.plugin.class_embeddings = class_text_embeddings(p, data.class_names).to(ctx.plugin.device);
    auto baseline = ctx.make<Baseline>("baseline");
    const double interval = p.get<double>("eval.test_interval");
    auto infer = [&](const data::Batch& batch) {
      const BaselineOutput out = baseline->infer({batch.images.to(ctx.plugin.device), batch.labels.to(ctx.plugin.device)});
      return MapBatch{out.maps, out.class_scores};
    };
    auto score = [&](const eval::SplitMetadata& split, const std::string& name) {
      Progress bar(name, static_cast<std::int64_t>(split.image_ids.size()), ctx.show_progress);
      auto result = score_split(split, data.image_root, transform_of(p, false), p.get<int>("eval.batch_size"),
                                p.get<int>("data.threads"), interval, infer,
                                [&](std::int64_t done, std::int64_t) { bar.update(done); });
      bar.finish();
      return result;
    };
    const SplitScores val = score(data.val, "val");
    const std::size_t operating = eval::operating_index(val.single);
    log_split_metrics(ctx.log_metric, "val", val);
    log_split_metrics(ctx.log_metric, "test", score(data.test, "test"), &operating);
    return {};
  }
};

std::vector<ParamDecl> baseline_params() {
  std::vector<ParamDecl> p = data_params();
  for (auto group : {text_params(), eval_params()}) p.insert(p.end(), group.begin(), group.end());
  p.push_back({"baseline", ParamType::Plugin, nullptr, "the baseline to score", true, {}, "baseline"});
  return p;
}

}  // namespace

void register_method_tasks(PluginRegistrar& registrar) {
  registrar.add<Task, TedLocTask>({"tedloc", "1.0.0",
                                   "TeD-Loc: train D and g on CAM pseudo-labels with text anchors, select on val "
                                   "MaxBoxAcc, evaluate on test (no class label at test time)",
                                   tedloc_params()});
  registrar.add<Task, BaselineTask>(
      {"baseline_eval", "1.0.0", "scores a baseline plugin (no training) on val/test under the WSOL protocol",
       baseline_params()});
}

}  // namespace tedloc::method
