#pragma once
// What the TeD-Loc and baseline tasks share: the dataset of a run, the frozen encoder, the class text
// embeddings, and the evaluation of a split under the WSOL protocol (maps compared at 224 x 224).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "tedloc/data/loader.hpp"
#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/params.hpp"

namespace tedloc::method {

// A dataset in the protocol's layout. The train split is read WITHOUT its localization.txt: training
// never sees a box.
struct WsolDataset {
  std::string image_root;
  std::vector<std::string> class_names;          // label order
  std::vector<data::ImageRecord> train;          // ids and labels only
  eval::SplitMetadata val, test;                 // with boxes
};

// data.metadata (folder of train/val/test), data.images, data.classes ("" = <metadata>/classes.txt),
// data.limit_train/limit_val/limit_test (0 = all; the first N of each split, for quick runs).
WsolDataset load_wsol_dataset(const Params& params);

// image_ids.txt + class_labels.txt of a split folder (not localization.txt). InputError names file:line.
std::vector<data::ImageRecord> load_split_records(const std::string& split_dir);

std::vector<data::ImageRecord> records_of(const eval::SplitMetadata& split);

// The frozen image encoder: images [B, 3, H, W] (normalised) -> patch tokens [B, gh * gw, C], row-major.
struct Encoder {
  std::function<torch::Tensor(const torch::Tensor&)> tokens;
  int64_t grid_h = 0, grid_w = 0, width = 0;  // for the run's input size
  int64_t parameters = 0;
  std::string description;
};

// encoder.type "clip" (native CLIP ViT from encoder.weights: .safetensors or OpenAI .pt; tokens after
// ln_post and proj) or "torchscript" (torch::jit::load(encoder.weights); forward(images) must return
// [B, N, C] patch tokens without a class token, on a square grid). Frozen and in eval mode.
Encoder make_encoder(const Params& params, int64_t image_size, const c10::Device& device);

// K x d class text embeddings, rows L2-normalised: text.encoder "ngram" (built in, text.dim),
// "clip" (CLIP's text tower of text.weights, BPE vocabulary text.vocab, prompt ensemble over
// text.templates) or "file" (text.file: .npy or .safetensors with one K x d tensor).
torch::Tensor class_text_embeddings(const Params& params, const std::vector<std::string>& class_names);

// The image transform of data.size / data.resize / data.augment / data.normalize: the training one (random
// crop and flip as data.augment says) or the evaluation one (resize only).
data::TransformOptions transform_options(const Params& params, bool train);

// The declared parameters of the data.*, encoder.*, text.* and eval.* groups, shared by the tasks.
std::vector<ParamDecl> data_params();
std::vector<ParamDecl> encoder_params();
std::vector<ParamDecl> text_params();
std::vector<ParamDecl> eval_params();

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

}  // namespace tedloc::method
