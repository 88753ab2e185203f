#include "tedloc/method/wsol_dataset.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>

#include "tedloc/error.hpp"

namespace tedloc::method {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> read_lines(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file + ": cannot read");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

template <class T>
void keep_first(std::vector<T>& v, std::int64_t n) {
  if (n > 0 && static_cast<std::int64_t>(v.size()) > n) v.resize(static_cast<std::size_t>(n));
}

void limit_split(eval::SplitMetadata& s, std::int64_t n) {
  keep_first(s.image_ids, n);
  keep_first(s.class_labels, n);
  keep_first(s.image_sizes, n);
  keep_first(s.boxes, n);
  keep_first(s.masks, n);
}

}  // namespace

std::vector<data::ImageRecord> load_split_records(const std::string& dir) {
  const std::string ids_file = dir + "/image_ids.txt", labels_file = dir + "/class_labels.txt";
  const auto ids = read_lines(ids_file);
  std::map<std::string, int> labels;
  const auto label_lines = read_lines(labels_file);
  for (std::size_t i = 0; i < label_lines.size(); ++i) {
    const auto comma = label_lines[i].rfind(',');
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      std::size_t used = 0;
      const int label = std::stoi(label_lines[i].substr(comma + 1), &used);
      if (used != label_lines[i].size() - comma - 1 || label < 0) throw std::invalid_argument("bad label");
      labels[label_lines[i].substr(0, comma)] = label;
    } catch (const std::exception&) {
      throw InputError(fmt::format("{}:{}: expected <image id>,<non-negative integer label>", labels_file, i + 1));
    }
  }
  std::vector<data::ImageRecord> records;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) continue;
    const auto it = labels.find(ids[i]);
    if (it == labels.end()) throw InputError(fmt::format("{}:{}: image '{}' has no label in {}", ids_file, i + 1, ids[i], labels_file));
    records.push_back({ids[i], it->second});
  }
  return records;
}

std::vector<data::ImageRecord> records_of(const eval::SplitMetadata& split) {
  if (split.class_labels.size() != split.image_ids.size()) {
    throw InputError(split.folder + ": class_labels.txt is missing or does not cover image_ids.txt");
  }
  std::vector<data::ImageRecord> records;
  for (std::size_t i = 0; i < split.image_ids.size(); ++i) records.push_back({split.image_ids[i], split.class_labels[i]});
  return records;
}

WsolDataset load_wsol_dataset(const Params& p) {
  WsolDataset d;
  const std::string root = p.get<std::string>("data.metadata");
  d.image_root = p.get<std::string>("data.images");
  if (!fs::is_directory(root)) throw InputError(root + ": no such metadata folder (data.metadata)");
  if (!fs::is_directory(d.image_root)) throw InputError(d.image_root + ": no such image folder (data.images)");
  d.train = load_split_records(root + "/train");
  keep_first(d.train, p.get<std::int64_t>("data.limit_train"));
  d.val = eval::load_split(root + "/val");
  d.test = eval::load_split(root + "/test");
  limit_split(d.val, p.get<std::int64_t>("data.limit_val"));
  limit_split(d.test, p.get<std::int64_t>("data.limit_test"));
  std::string classes = p.get<std::string>("data.classes");
  if (classes.empty() && fs::exists(root + "/classes.txt")) classes = root + "/classes.txt";
  int max_label = 0;
  for (const auto& r : d.train) max_label = std::max(max_label, r.label);
  if (!classes.empty()) {
    for (auto& line : read_lines(classes)) {
      if (!line.empty()) d.class_names.push_back(line);
    }
  } else {
    for (int k = 0; k <= max_label; ++k) d.class_names.push_back(fmt::format("class {}", k));
  }
  if (max_label >= static_cast<int>(d.class_names.size())) {
    throw InputError(fmt::format("{}: {} class names, but the train split has label {}", classes,
                                 d.class_names.size(), max_label));
  }
  return d;
}

std::vector<ParamDecl> data_params() {
  return {
      {"data.metadata", ParamType::Folder, nullptr, "folder with the train/val/test split folders (protocol layout)", true},
      {"data.images", ParamType::Folder, nullptr, "image root: images are <root>/<image id>", true},
      {"data.classes", ParamType::File, "", "class names, one per line (default <metadata>/classes.txt)"},
      ParamDecl{"data.size", ParamType::Int, 224, "model input side (eval resize, train crop)"}.within(8, 8192),
      ParamDecl{"data.resize", ParamType::Int, 256, "train: resize side before the random crop"}.within(8, 8192),
      {"data.augment", ParamType::String, "crop_flip", "train augmentation", false, {"crop_flip", "flip", "none"}},
      ParamDecl{"data.threads", ParamType::Int, 2, "image decoding threads"}.within(0, 256),
      ParamDecl{"data.limit_train", ParamType::Int, 0, "use only the first N train images (0: all)"}.at_least(0),
      ParamDecl{"data.limit_val", ParamType::Int, 0, "use only the first N val images (0: all)"}.at_least(0),
      ParamDecl{"data.limit_test", ParamType::Int, 0, "use only the first N test images (0: all)"}.at_least(0),
      {"data.normalize", ParamType::String, "clip", "mean/std of the input", false, {"clip", "imagenet"}},
  };
}

data::TransformOptions transform_options(const Params& p, bool train) {
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

}  // namespace tedloc::method
