#pragma once
// A split scored under the WSOL protocol (maps resized to 224 x 224, box curves, the metrics of METRICS.md).
#include <cstdint>
#include <functional>
#include <string>

#include <torch/types.h>

#include "tedloc/data/loader.hpp"
#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/params.hpp"

namespace tedloc::method {

// Box curves of a split (single- and multi-contour), built from maps the caller computes batch by batch.
struct SplitScores {
  eval::BoxCurves single, multi;
};

// One batch of a split: maps [B, h, w] (any range; resized to 224 and min-max normalised here) and
// class scores [B, K] (may be undefined: no classification).
struct MapBatch {
  torch::Tensor maps;
  torch::Tensor scores;
};

// Runs `infer` over the split (eval transform, in order) and scores every map against its GT boxes.
SplitScores score_split(const eval::SplitMetadata& split, const std::string& image_root,
                        const data::TransformOptions& transform, int batch_size, int threads, double interval,
                        const std::function<MapBatch(const data::Batch&)>& infer,
                        const std::function<void(std::int64_t, std::int64_t)>& progress = nullptr);

// The metrics of METRICS.md for a split: maxboxacc_{30,50,70}, maxboxacc_v2, best_threshold_50, cl_top1/5;
// with `operating` (val's index), also top1_loc/top5_loc/gt_known_loc at it and *_own at the split's optimum.
using MetricSink = std::function<void(const std::string& split, const std::string& name, double value, int epoch)>;
void log_split_metrics(const MetricSink& log, const std::string& split, const SplitScores& s,
                       const std::size_t* operating = nullptr);

// The declared parameters of the eval.* group.
std::vector<ParamDecl> eval_params();

}  // namespace tedloc::method
