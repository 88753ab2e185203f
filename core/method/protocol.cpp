#include "tedloc/method/protocol.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include "tedloc/error.hpp"
#include "tedloc/method/inference.hpp"
#include "tedloc/method/wsol_dataset.hpp"

namespace tedloc::method {
std::vector<ParamDecl> eval_params() {
  return {
      ParamDecl{"eval.interval", ParamType::Float, 0.01, "cam threshold spacing during training (val, each epoch)"}.within(1e-5, 1),
      ParamDecl{"eval.test_interval", ParamType::Float, 0.001, "cam threshold spacing of the final val/test evaluation"}.within(1e-5, 1),
      ParamDecl{"eval.batch_size", ParamType::Int, 32, "evaluation batch size"}.within(1, 65536),
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

}  // namespace tedloc::method
