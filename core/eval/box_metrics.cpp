// The box evaluator, part 3: accumulation over a split and the summaries (MaxBoxAcc, MaxBoxAccV2, Top-k Loc, CL).
#include "tedloc/eval/box_eval.hpp"

#include <algorithm>
#include <cmath>

#include "tedloc/error.hpp"

namespace tedloc::eval {

bool class_in_top_k(const std::vector<float>& scores, int label, int k) {
  if (label < 0 || static_cast<std::size_t>(label) >= scores.size())
    throw InputError("class label " + std::to_string(label) + " outside the " + std::to_string(scores.size()) +
                     " class scores");
  int ahead = 0;
  for (int j = 0; j < static_cast<int>(scores.size()); ++j)
    if (scores[j] > scores[label] || (scores[j] == scores[label] && j < label)) ++ahead;
  return ahead < k;
}

BoxCurves make_box_curves(double interval, const std::vector<int>& iou_thresholds) {
  BoxCurves c;
  c.cam_thresholds = cam_thresholds(interval);
  c.iou_thresholds = iou_thresholds;
  c.num_correct.assign(iou_thresholds.size(), std::vector<std::int64_t>(c.cam_thresholds.size(), 0));
  c.top1_loc.assign(c.cam_thresholds.size(), 0);
  c.top5_loc.assign(c.cam_thresholds.size(), 0);
  return c;
}

void accumulate(BoxCurves& curves, const MapCurve& map, const ClassHit* hit) {
  const std::size_t n = curves.cam_thresholds.size();
  if (map.best_iou.size() != n) throw std::logic_error("accumulate: curve length differs from the thresholds");
  for (std::size_t d = 0; d < curves.iou_thresholds.size(); ++d) {
    const double need = curves.iou_thresholds[d] / 100.0;
    for (std::size_t i = 0; i < n; ++i) curves.num_correct[d][i] += map.best_iou[i] >= need ? 1 : 0;
  }
  ++curves.num_images;
  if (!hit) return;
  ++curves.num_classified;
  curves.num_top1 += hit->top1;
  curves.num_top5 += hit->top5;
  for (std::size_t i = 0; i < n; ++i) {
    const bool located = map.best_iou[i] >= 50 / 100.0;
    curves.top1_loc[i] += located && hit->top1;
    curves.top5_loc[i] += located && hit->top5;
  }
}

void merge(BoxCurves& total, const BoxCurves& part) {
  if (total.cam_thresholds != part.cam_thresholds || total.iou_thresholds != part.iou_thresholds)
    throw std::logic_error("merge: curves with different thresholds");
  for (std::size_t d = 0; d < total.num_correct.size(); ++d)
    for (std::size_t i = 0; i < total.cam_thresholds.size(); ++i) total.num_correct[d][i] += part.num_correct[d][i];
  for (std::size_t i = 0; i < total.cam_thresholds.size(); ++i) {
    total.top1_loc[i] += part.top1_loc[i];
    total.top5_loc[i] += part.top5_loc[i];
  }
  total.num_images += part.num_images;
  total.num_classified += part.num_classified;
  total.num_top1 += part.num_top1;
  total.num_top5 += part.num_top5;
}

double percent(std::int64_t count, std::int64_t n) {
  return n == 0 ? 0.0 : static_cast<double>(count) * 100.0 / static_cast<double>(n);
}

BoxSummary summarize(const BoxCurves& curves) {
  BoxSummary s;
  double sum = 0;
  for (std::size_t d = 0; d < curves.iou_thresholds.size(); ++d) {
    IouResult r;
    r.iou = curves.iou_thresholds[d];
    const auto& counts = curves.num_correct[d];
    r.best_index = static_cast<std::size_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
    r.max_box_acc = percent(counts[r.best_index], curves.num_images);
    r.best_threshold = curves.cam_thresholds[r.best_index];
    sum += r.max_box_acc;
    s.per_iou.push_back(r);
  }
  s.mean = s.per_iou.empty() ? 0.0 : sum / static_cast<double>(s.per_iou.size());
  return s;
}

std::size_t operating_index(const BoxCurves& curves) {
  const auto it = std::find(curves.iou_thresholds.begin(), curves.iou_thresholds.end(), 50);
  if (it == curves.iou_thresholds.end()) throw InputError("the operating cam threshold needs IoU threshold 50");
  const auto& counts = curves.num_correct[static_cast<std::size_t>(it - curves.iou_thresholds.begin())];
  return static_cast<std::size_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
}

LocalizationAt localization_at(const BoxCurves& curves, std::size_t index) {
  LocalizationAt at;
  at.index = index;
  at.threshold = curves.cam_thresholds.at(index);
  for (const auto& counts : curves.num_correct) at.box_acc.push_back(percent(counts[index], curves.num_images));
  if (curves.num_classified == curves.num_images) {
    at.top1_loc = percent(curves.top1_loc[index], curves.num_images);
    at.top5_loc = percent(curves.top5_loc[index], curves.num_images);
  }
  return at;
}

double top1_cl_accuracy(const BoxCurves& curves) { return percent(curves.num_top1, curves.num_classified); }
double top5_cl_accuracy(const BoxCurves& curves) { return percent(curves.num_top5, curves.num_classified); }

}  // namespace tedloc::eval
