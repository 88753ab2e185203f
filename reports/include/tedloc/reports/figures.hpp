#pragma once
// The report figures as PNG files: training curves per run, the anchors' cosine similarity before and after
// orthogonalisation (the paper's Fig. 3 point), and localization-map overlays like the paper's Fig. 4/5.
#include <string>
#include <vector>

#include "tedloc/data/image.hpp"
#include "tedloc/store.hpp"

namespace tedloc::reports {

// One run's curves: per epoch (metrics with epoch >= 0) the train loss terms (train/loss*) in the left
// panel and val maxboxacc_50 and cl_top1 (0..100) in the right one; the best epoch (model/best_epoch, else
// the epoch of the highest val maxboxacc_50) is marked by a dashed line. `title` is drawn on top.
// Throws InputError when the run has no per-epoch metric.
data::Image training_curves_figure(const Store& store, std::int64_t run, const std::string& title);

// Cosine similarity of the built-in encoder's text embeddings of `class_names` (rows of ngram_text_embeddings
// over the default prompt templates) as heat maps, before and after qr_anchors and lowdin_anchors, side by
// side with a colour bar over [-1, 1] and the class names.
data::Image anchor_similarity_figure(const std::vector<std::string>& class_names);

// One overlay: the artifact JSON the trainer writes (kind "overlay"):
// {"image": PATH, "map": PATH.npy (2-D, values in [0, 1], any size), "gt_boxes": [[x0, y0, x1, y1], ...],
//  "pred_box": [x0, y0, x1, y1], "label": TEXT}, boxes in the image's pixel coordinates, relative paths
// relative to the JSON file's folder. The image is scaled to `cell` x `cell`, the map laid over it as a
// translucent heat map, the GT boxes in green, the predicted box in red, the label under it.
data::Image overlay_tile(const std::string& artifact_json, int cell = 160);

// Tiles in a grid of `columns`, under a title.
data::Image tile_grid(const std::vector<data::Image>& tiles, int columns, const std::string& title);

struct FigureOptions {
  std::string out_dir;
  std::vector<std::string> experiments;  // runs of these experiments; empty: every experiment in the store
  std::vector<std::string> class_names;  // for the anchors figure; empty: the 10 FashionWSOL classes
  int max_overlays = 12;                 // per run
  int overlay_columns = 4;
};

// Writes OUT/anchors_cosine.png, OUT/curves_<experiment>_run<ID>.png for each done run with per-epoch
// metrics, and OUT/overlays_<experiment>_run<ID>.png for each run with overlay artifacts. Returns the paths.
// An unknown experiment or an unreadable artifact is an InputError naming it.
std::vector<std::string> write_figures(const Store& store, const FigureOptions& options);

}  // namespace tedloc::reports
