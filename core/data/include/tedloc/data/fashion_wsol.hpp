#pragma once
// FashionWSOL: a small WSOL dataset in the metadata layout of Choe et al.'s protocol, generated from
// Debian's dataset-fashion-mnist. Each canvas holds ONE Fashion-MNIST item, upscaled and pasted at a
// random scale and position on a cluttered background (smooth coloured noise + blurred, low-contrast
// fragments of other items that are never whole items). The ground-truth box is the exact bounding
// box of the pasted item's pixels. Without the package, simple parametric shapes per class stand in.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tedloc/data/image.hpp"

namespace tedloc::data {

// The 10 Fashion-MNIST classes, label = index.
extern const std::array<const char*, 10> kFashionClassNames;

struct FashionWsolOptions {
  std::string out_dir;
  std::uint64_t seed = 0;
  int canvas = 128;                 // side of the square canvas in pixels
  int train = 2000, val = 250, test = 500;
  std::string fashion_dir = "/usr/share/datasets/fashion-mnist";
  double min_scale = 0.35, max_scale = 0.75;  // item side as a fraction of the canvas side
  int num_threads = 2;
  bool write_masks = false;         // also <out>/masks/<id>: 255 on the item's pixels, 0 elsewhere
  bool progress = true;             // a progress bar on stderr when it is a terminal
};

struct FashionWsolSummary {
  std::string source;    // "fashion-mnist" or "procedural"
  int images = 0;
  std::string metadata_dir;  // <out>/metadata/FashionWSOL
  std::string image_root;    // <out>/images
};

// Writes <out>/images/<id> (PNG) and <out>/metadata/FashionWSOL/{train,val,test}/{image_ids,class_labels,
// image_sizes,localization}.txt (and <out>/masks/<id> with write_masks), plus classes.txt and dataset.json (the options and the item source)
// next to the split folders. Same options, same bytes. Throws InputError (unreadable IDX file, output
// not writable) or UsageError (bad options).
FashionWsolSummary generate_fashion_wsol(const FashionWsolOptions& options);

// IDX files (optionally gzip-compressed), the Fashion-MNIST/MNIST container.
struct IdxImages {
  int count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols, row-major
};
IdxImages read_idx_images(const std::string& path);
std::vector<std::uint8_t> read_idx_labels(const std::string& path);

// The stand-in item of a class when Fashion-MNIST is absent: a 28 x 28 gray silhouette with jittered
// proportions (e.g. two legs for Trouser, an L for Ankle boot).
Image procedural_item(int label, std::uint64_t seed);

}  // namespace tedloc::data
