#pragma once
// `tedloc eval`: the WSOL reference's evaluation of a folder of .npy score maps (<scoremaps>/<image_id>.npy)
// against a split's metadata: MaxBoxAcc / MaxBoxAccV2 for box splits, PxAP for OpenImages mask splits.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tedloc::eval {

struct EvalOptions {
  std::string metadata;          // split folder (image_ids.txt, ...)
  std::string scoremaps;         // folder of <image_id>.npy
  std::string mask_root;         // mask splits: folder the mask paths are relative to
  double interval = 0.001;       // cam_curve_interval
  bool multi_contour = false;    // true: MaxBoxAccV2's box extraction
  std::vector<int> iou_thresholds{30, 50, 70};
  int threads = 0;               // 0: every core
  bool progress = true;          // a progress bar on stderr when it is a terminal
};

// Evaluates every map of the split on `threads` threads. Box split: {"maxboxacc": [per IoU], "maxboxacc_v2":
// mean over the IoU list (MaxBoxAccV2 when multi_contour), "best_threshold": [per IoU], "best_threshold_index",
// "num_images", "cam_curve_interval", "iou_thresholds", "multi_contour"}; mask split: {"pxap", "num_images",
// "cam_curve_interval"}. Throws InputError for a bad metadata line, a missing or invalid map, a bad mask.
nlohmann::json evaluate_scoremaps(const EvalOptions& options);

// `tedloc eval --metadata DIR --scoremaps DIR [--interval S] [--multi-contour] [--iou 30,50,70] [--json]
// [--mask-root DIR] [--threads N]`; `args` are the words after `tedloc eval`. Returns an ExitCode.
int eval_command(const std::vector<std::string>& args);

}  // namespace tedloc::eval
