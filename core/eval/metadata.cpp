#include "tedloc/eval/metadata.hpp"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>

#include "tedloc/error.hpp"

namespace tedloc::eval {
namespace {

namespace fs = std::filesystem;

// One line of a metadata file, split at commas (ids cannot contain commas; they may contain spaces).
struct Line {
  std::size_t number = 0;  // 1-based
  std::vector<std::string> fields;
};

// The lines of `path` without their '\n' (and a '\r' before it, for files edited on Windows).
// An empty line is an error; a missing final newline is not.
std::vector<Line> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open");
  std::vector<Line> lines;
  std::string text;
  for (std::size_t number = 1; std::getline(in, text); ++number) {
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) throw InputError(path + ":" + std::to_string(number) + ": empty line");
    Line line;
    line.number = number;
    std::size_t start = 0;
    for (std::size_t comma; (comma = text.find(',', start)) != std::string::npos; start = comma + 1)
      line.fields.push_back(text.substr(start, comma - start));
    line.fields.push_back(text.substr(start));
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw InputError(path + ": read error");
  return lines;
}

[[noreturn]] void fail(const std::string& path, const Line& line, const std::string& reason) {
  throw InputError(path + ":" + std::to_string(line.number) + ": " + reason);
}

// A non-negative decimal integer that fits an int; anything else (sign, space, empty, overflow) is an error.
int parse_count(const std::string& path, const Line& line, const std::string& field, const char* what) {
  if (field.empty() || field.size() > 10) fail(path, line, std::string("bad ") + what + " '" + field + "'");
  long long v = 0;
  for (char c : field) {
    if (c < '0' || c > '9') fail(path, line, std::string("bad ") + what + " '" + field + "'");
    v = v * 10 + (c - '0');
  }
  if (v > std::numeric_limits<int>::max()) fail(path, line, std::string(what) + " out of range '" + field + "'");
  return static_cast<int>(v);
}

void expect_fields(const std::string& path, const Line& line, std::size_t n, const char* layout) {
  if (line.fields.size() != n)
    fail(path, line, "expected " + std::to_string(n) + " comma-separated fields (" + layout + "), got " +
                         std::to_string(line.fields.size()));
}

// Maps image ids to their index in image_ids.txt.
class IdIndex {
 public:
  explicit IdIndex(const std::vector<std::string>& ids) {
    index_.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) index_.emplace(ids[i], i);
  }
  std::size_t at(const std::string& path, const Line& line) const {
    const auto it = index_.find(line.fields[0]);
    if (it == index_.end()) fail(path, line, "image id '" + line.fields[0] + "' is not in image_ids.txt");
    return it->second;
  }

 private:
  std::unordered_map<std::string, std::size_t> index_;
};

// Throws unless every image got a value in `path` (seen[i]).
void expect_all_seen(const std::string& path, const std::vector<bool>& seen, const std::vector<std::string>& ids) {
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) throw InputError(path + ": no line for image id '" + ids[i] + "'");
}

std::vector<std::string> load_image_ids(const std::string& path) {
  std::vector<std::string> ids;
  std::unordered_map<std::string, std::size_t> first_line;
  for (const Line& line : read_lines(path)) {
    expect_fields(path, line, 1, "id");
    const auto [it, fresh] = first_line.emplace(line.fields[0], line.number);
    if (!fresh) fail(path, line, "duplicate image id (first on line " + std::to_string(it->second) + ")");
    ids.push_back(line.fields[0]);
  }
  return ids;
}

std::vector<int> load_class_labels(const std::string& path, const SplitMetadata& split, const IdIndex& index) {
  std::vector<int> labels(split.image_ids.size(), -1);
  std::vector<bool> seen(labels.size(), false);
  for (const Line& line : read_lines(path)) {
    expect_fields(path, line, 2, "id,label");
    const std::size_t i = index.at(path, line);
    if (seen[i]) fail(path, line, "second label for image id '" + line.fields[0] + "'");
    seen[i] = true;
    labels[i] = parse_count(path, line, line.fields[1], "class label");
  }
  expect_all_seen(path, seen, split.image_ids);
  return labels;
}

std::vector<ImageSize> load_image_sizes(const std::string& path, const SplitMetadata& split, const IdIndex& index) {
  const std::vector<Line> lines = read_lines(path);
  if (lines.empty() && split.kind == LocalizationKind::kMasks) return {};  // OpenImages ships it empty
  std::vector<ImageSize> sizes(split.image_ids.size());
  std::vector<bool> seen(sizes.size(), false);
  for (const Line& line : lines) {
    expect_fields(path, line, 3, "id,width,height");
    const std::size_t i = index.at(path, line);
    if (seen[i]) fail(path, line, "second size for image id '" + line.fields[0] + "'");
    seen[i] = true;
    sizes[i] = {parse_count(path, line, line.fields[1], "width"), parse_count(path, line, line.fields[2], "height")};
    if (sizes[i].width == 0 || sizes[i].height == 0) fail(path, line, "zero image size");
  }
  expect_all_seen(path, seen, split.image_ids);
  return sizes;
}

void load_localization(const std::string& path, SplitMetadata& split, const IdIndex& index) {
  const std::vector<Line> lines = read_lines(path);
  if (lines.empty()) throw InputError(path + ": empty file");
  split.kind = lines.front().fields.size() == 3 ? LocalizationKind::kMasks : LocalizationKind::kBoxes;
  std::vector<bool> seen(split.image_ids.size(), false);
  if (split.kind == LocalizationKind::kBoxes) {
    split.boxes.assign(split.image_ids.size(), {});
    for (const Line& line : lines) {
      expect_fields(path, line, 5, "id,x0,y0,x1,y1");
      const std::size_t i = index.at(path, line);
      const Box b{parse_count(path, line, line.fields[1], "x0"), parse_count(path, line, line.fields[2], "y0"),
                  parse_count(path, line, line.fields[3], "x1"), parse_count(path, line, line.fields[4], "y1")};
      if (b.x0 > b.x1 || b.y0 > b.y1) fail(path, line, "box with x0 > x1 or y0 > y1");
      split.boxes[i].push_back(b);
      seen[i] = true;
    }
  } else {
    split.masks.assign(split.image_ids.size(), {});
    for (const Line& line : lines) {
      expect_fields(path, line, 3, "id,mask path,ignore path");
      const std::size_t i = index.at(path, line);
      if (line.fields[1].empty()) fail(path, line, "empty mask path");
      // As in the reference: only the first line of an image names its ignore mask.
      if (seen[i] && !line.fields[2].empty())
        fail(path, line, "ignore path on a later line of image id '" + line.fields[0] + "'");
      if (!seen[i]) split.masks[i].ignore = line.fields[2];
      split.masks[i].masks.push_back(line.fields[1]);
      seen[i] = true;
    }
  }
  expect_all_seen(path, seen, split.image_ids);
}

}  // namespace

SplitMetadata load_split(const std::string& dir) {
  if (!fs::is_directory(dir)) throw InputError(dir + ": not a metadata folder");
  SplitMetadata split;
  split.folder = dir;
  const auto file = [&dir](const char* name) { return (fs::path(dir) / name).string(); };
  split.image_ids = load_image_ids(file("image_ids.txt"));
  if (split.image_ids.empty()) throw InputError(file("image_ids.txt") + ": no image");
  const IdIndex index(split.image_ids);
  load_localization(file("localization.txt"), split, index);
  split.image_sizes = load_image_sizes(file("image_sizes.txt"), split, index);
  if (fs::exists(file("class_labels.txt"))) split.class_labels = load_class_labels(file("class_labels.txt"), split, index);
  return split;
}

Box resize_box(const Box& box, ImageSize original, int size) {
  const auto scale = [size](int v, int extent) {
    const double r = static_cast<double>(v) * static_cast<double>(size) / static_cast<double>(extent);
    if (!(r < 2147483647.0)) throw InputError("box coordinate " + std::to_string(v) + " out of range after resizing");
    return static_cast<int>(r);
  };
  return {scale(box.x0, original.width), scale(box.y0, original.height), scale(box.x1, original.width),
          scale(box.y1, original.height)};
}

std::vector<Box> resized_boxes(const SplitMetadata& split, std::size_t i, int size) {
  if (split.image_sizes.empty()) throw InputError(split.folder + ": image_sizes.txt is empty, cannot rescale boxes");
  std::vector<Box> out;
  for (const Box& b : split.boxes.at(i)) out.push_back(resize_box(b, split.image_sizes[i], size));
  return out;
}

}  // namespace tedloc::eval
