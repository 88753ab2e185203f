#pragma once
// A run's dataset in the WSOL protocol's layout (metadata + images), and its image transforms.
#include <string>
#include <vector>

#include "tedloc/data/loader.hpp"
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

// The image transform of data.size / data.resize / data.augment / data.normalize: the training one (random
// crop and flip as data.augment says) or the evaluation one (resize only).
data::TransformOptions transform_options(const Params& params, bool train);

// The records (id, label) of a split's metadata, in its order.
std::vector<data::ImageRecord> records_of(const eval::SplitMetadata& split);

// The declared parameters of the data.* group.
std::vector<ParamDecl> data_params();

}  // namespace tedloc::method
