#pragma once
// The metadata layout of Choe et al.'s WSOL protocol (clovaai/wsolevaluation): one folder per split with
//   image_ids.txt     <id>                       the images and their evaluation order
//   class_labels.txt  <id>,<label>
//   image_sizes.txt   <id>,<width>,<height>      original size (empty for OpenImages)
//   localization.txt  <id>,<x0>,<y0>,<x1>,<y1>   one line per box (several per image), or, OpenImages:
//                     <id>,<mask path>,<ignore path>  one line per instance mask, ignore path on the first
// Lines are matched by id, never by position. Errors: InputError "file:line: reason".
#include <string>
#include <vector>

namespace tedloc::eval {

// A box [x0, y0, x1, y1] in pixels (the reference's inclusive-IoU convention).
struct Box {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  friend bool operator==(const Box& a, const Box& b) {
    return a.x0 == b.x0 && a.y0 == b.y0 && a.x1 == b.x1 && a.y1 == b.y1;
  }
};

struct ImageSize {
  int width = 0, height = 0;
};

// The OpenImages ground truth of one image: instance-mask PNGs and one ignore PNG, relative to the mask root.
struct MaskPaths {
  std::vector<std::string> masks;
  std::string ignore;  // empty: no ignore region
};

enum class LocalizationKind { kBoxes, kMasks };

// One split. Every vector is indexed like image_ids.
struct SplitMetadata {
  std::string folder;
  std::vector<std::string> image_ids;
  std::vector<int> class_labels;            // empty when class_labels.txt is absent
  std::vector<ImageSize> image_sizes;       // empty for a mask split with an empty image_sizes.txt
  LocalizationKind kind = LocalizationKind::kBoxes;
  std::vector<std::vector<Box>> boxes;      // kBoxes: GT boxes in original pixels, in file order
  std::vector<MaskPaths> masks;             // kMasks
};

// Loads the split folder `dir`. The localization kind is read off the field count (5: boxes, 3: masks).
SplitMetadata load_split(const std::string& dir);

// The reference's resize_bbox: each coordinate scaled alone, int(v * size / original) in double, truncated,
// no clipping (x = width gives `size`).
Box resize_box(const Box& box, ImageSize original, int size = 224);

// GT boxes of image i rescaled to size x size.
std::vector<Box> resized_boxes(const SplitMetadata& split, std::size_t i, int size = 224);

}  // namespace tedloc::eval
