// The FashionWSOL generator (see fashion_wsol.hpp) and its IDX reader.
#include "tedloc/data/fashion_wsol.hpp"

#include <zlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tedloc/data/random.hpp"
#include "tedloc/data/transforms.hpp"
#include "tedloc/error.hpp"
#include "tedloc/stop.hpp"

namespace fs = std::filesystem;

namespace tedloc::data {

const std::array<const char*, 10> kFashionClassNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                        "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// ---------------------------------------------------------------------------------------------- IDX files

namespace {

std::vector<std::uint8_t> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files too
  if (!f) throw InputError(path + ": cannot open IDX file");
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  int n;
  while ((n = gzread(f, chunk, sizeof chunk)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  int err = Z_OK;
  const std::string message = n < 0 ? gzerror(f, &err) : "";
  gzclose(f);
  if (n < 0) throw InputError(path + ": corrupt gzip stream (" + message + ")");
  return bytes;
}

std::uint32_t big_endian_u32(const std::vector<std::uint8_t>& b, size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

// Checks the magic (unsigned bytes, `dims` dimensions) and returns the dimensions, each of which fits an int.
std::vector<std::uint32_t> idx_header(const std::vector<std::uint8_t>& b, int dims, const std::string& path) {
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  if (b.size() < header) throw InputError(path + ": truncated IDX header");
  if (big_endian_u32(b, 0) != 0x800u + static_cast<std::uint32_t>(dims))
    throw InputError(fmt::format("{}: not an IDX file of unsigned bytes with {} dimensions (magic 0x{:08x})", path,
                                 dims, big_endian_u32(b, 0)));
  std::vector<std::uint32_t> shape;
  size_t total = 1;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(big_endian_u32(b, 4 + 4 * d));
    // A product that wrapped could match the file's size and pass for a valid header.
    if (shape.back() > static_cast<std::uint32_t>(std::numeric_limits<int>::max()) ||
        (shape.back() != 0 && total > std::numeric_limits<size_t>::max() / shape.back()))
      throw InputError(fmt::format("{}: IDX dimension {} of {} is too large", path, d, shape.back()));
    total *= shape.back();
  }
  if (b.size() != header + total)
    throw InputError(fmt::format("{}: IDX data has {} bytes, its header announces {}", path, b.size() - header, total));
  return shape;
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  std::vector<std::uint8_t> b = read_gz(path);
  const std::vector<std::uint32_t> shape = idx_header(b, 3, path);
  if (shape[1] == 0 || shape[2] == 0) throw InputError(fmt::format("{}: IDX images of {} x {} pixels", path, shape[1], shape[2]));
  IdxImages out;
  out.count = static_cast<int>(shape[0]);
  out.rows = static_cast<int>(shape[1]);
  out.cols = static_cast<int>(shape[2]);
  out.pixels.assign(b.begin() + 16, b.end());
  return out;
}

std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  std::vector<std::uint8_t> b = read_gz(path);
  idx_header(b, 1, path);
  return {b.begin() + 8, b.end()};
}

// ------------------------------------------------------------------------------------ procedural items

namespace {

// Coverage of a pixel by a shape, estimated on a 4 x 4 grid of sub-pixel points.
template <class Inside>
void fill(Image& img, Inside inside, float value) {
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      int hits = 0;
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx) hits += inside(x + (sx + 0.5) / 4.0, y + (sy + 0.5) / 4.0);
      if (hits == 0) continue;
      const float v = img.at(x, y) + (value - img.at(x, y)) * hits / 16.f;
      img.at(x, y) = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.f, 255.f)));
    }
}

void rect(Image& img, double x0, double y0, double x1, double y1, float v) {
  fill(img, [=](double x, double y) { return x >= x0 && x < x1 && y >= y0 && y < y1; }, v);
}

// A trapezoid with horizontal top (y0, half-width w0) and bottom (y1, half-width w1) centred on cx.
void trapezoid(Image& img, double cx, double y0, double w0, double y1, double w1, float v) {
  fill(img, [=](double x, double y) {
    if (y < y0 || y >= y1) return false;
    const double w = w0 + (w1 - w0) * (y - y0) / (y1 - y0);
    return std::fabs(x - cx) < w;
  }, v);
}

void ring(Image& img, double cx, double cy, double r, double thickness, bool upper_half, float v) {
  fill(img, [=](double x, double y) {
    const double d = std::hypot(x - cx, y - cy);
    return d < r && d >= r - thickness && (!upper_half || y <= cy);
  }, v);
}

}  // namespace

Image procedural_item(int label, std::uint64_t seed) {
  std::mt19937 rng = make_rng(seed);
  auto j = [&](double v) { return v + uniform_real(rng, -1.5, 1.5); };  // jittered proportion
  const float ink = static_cast<float>(uniform_real(rng, 170, 255));
  const float dark = ink * 0.35f;
  Image img(28, 28, 1, 0);
  switch (label) {
    case 0:  // T-shirt/top: torso and short sleeves
      rect(img, j(8), j(5), j(20), j(25), ink);
      trapezoid(img, 14, j(5), 10, j(12), 11.5, ink);
      rect(img, 8.5, 5, 19.5, 26, ink);
      break;
    case 1:  // Trouser: waist band and two legs
      rect(img, j(8), j(2), j(20), 7, ink);
      rect(img, j(8), 6, 13.2, j(26), ink);
      rect(img, 14.8, 6, j(20), j(26), ink);
      break;
    case 2:  // Pullover: torso and long sleeves
      rect(img, j(8), j(4), j(20), j(24), ink);
      trapezoid(img, 14, 4, 10, j(23), 12, ink);
      rect(img, 8, 4, 20, 25, ink);
      break;
    case 3:  // Dress: narrow top, wide hem
      trapezoid(img, j(14), j(2), j(4), j(26), j(9.5), ink);
      break;
    case 4:  // Coat: wide, long sleeves, a dark front opening
      trapezoid(img, 14, j(3), 11, j(25), 12.5, ink);
      rect(img, 13.5, 5, 14.5, 25, dark);
      break;
    case 5:  // Sandal: thin straps over a sole
      for (int s = 0; s < 3; ++s) rect(img, j(4 + 3 * s), 12 + 3 * s, j(24), 13.2 + 3 * s, ink);
      rect(img, j(2), j(21), j(26), 23.5, ink);
      break;
    case 6:  // Shirt: long sleeves, a dark collar notch, buttons
      trapezoid(img, 14, j(4), 10.5, j(25), 11, ink);
      trapezoid(img, 14, 4, 3, 9, 0.3, dark);
      for (int b = 0; b < 4; ++b) rect(img, 13.5, 11 + 4 * b, 14.5, 12 + 4 * b, dark);
      break;
    case 7:  // Sneaker: a low shoe, rising at the ankle
      rect(img, j(2), j(15), j(26), 21, ink);
      trapezoid(img, j(18), j(10), 4, 15, 7, ink);
      rect(img, 2, 21, 26, j(23), dark);
      break;
    case 8:  // Bag: a box with a handle
      rect(img, j(4), j(11), j(24), j(25), ink);
      ring(img, 14, 11, j(7), 1.8, true, ink);
      break;
    default:  // Ankle boot: shaft and foot
      rect(img, j(13), j(3), j(22), 24, ink);
      rect(img, j(3), j(16), j(23), j(25), ink);
      break;
  }
  // Fabric texture: a little per-pixel variation inside the item.
  for (auto& p : img.pixels)
    if (p > 0) p = static_cast<std::uint8_t>(std::clamp(p + uniform_int(rng, -20, 20), 1, 255));
  return img;
}

// ------------------------------------------------------------------------------------------ canvases

namespace {

constexpr int kSplitCount = 3;
const std::array<const char*, kSplitCount> kSplitNames = {"train", "val", "test"};
// Upscaled item pixels fainter than this are cut: the pasted item is exactly the pixels kept, so its box
// has no invisible margin of near-zero interpolation ramps.
constexpr int kAlphaFloor = 24;

struct Box {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // x1, y1 one past the last pixel (the protocol's convention)
};

// Where the items come from: Fashion-MNIST's train/t10k sets, or the procedural stand-ins.
struct ItemBank {
  IdxImages images;  // empty in procedural mode
  std::vector<std::uint8_t> labels;
  bool procedural() const { return images.count == 0; }
  Image item(int index) const {
    Image img(images.cols, images.rows, 1);
    const size_t n = static_cast<size_t>(images.rows) * images.cols;
    std::copy_n(images.pixels.begin() + index * n, n, img.pixels.begin());
    return img;
  }
};

std::optional<ItemBank> load_bank(const std::string& dir, const std::string& prefix) {
  const fs::path images = fs::path(dir) / (prefix + "-images-idx3-ubyte.gz");
  const fs::path labels = fs::path(dir) / (prefix + "-labels-idx1-ubyte.gz");
  if (!fs::exists(images) || !fs::exists(labels)) return std::nullopt;
  ItemBank bank{read_idx_images(images.string()), read_idx_labels(labels.string())};
  if (static_cast<size_t>(bank.images.count) != bank.labels.size())
    throw InputError(fmt::format("{}: {} labels for {} images in {}", labels.string(), bank.labels.size(),
                                 bank.images.count, images.string()));
  for (std::uint8_t l : bank.labels)
    if (l >= kFashionClassNames.size()) throw InputError(fmt::format("{}: label {} out of 0..9", labels.string(), l));
  return bank;
}

// One sample of a split: its class and, with Fashion-MNIST, which item of the bank it shows.
struct SampleSpec {
  int label = 0;
  int item = -1;
};

// Class-balanced samples (label = i mod 10); items drawn without replacement from a seeded permutation
// of each class's items, `skip` items per class being reserved for an earlier split of the same bank.
std::vector<SampleSpec> plan_split(int count, const ItemBank& bank, std::uint64_t seed, int skip, const char* split) {
  std::vector<SampleSpec> specs(count);
  for (int i = 0; i < count; ++i) specs[i].label = i % 10;
  if (bank.procedural()) return specs;
  std::array<std::vector<int>, 10> pools;
  for (int i = 0; i < bank.images.count; ++i) pools[bank.labels[i]].push_back(i);
  for (int c = 0; c < 10; ++c) {
    std::mt19937 rng = make_rng(sample_seed(seed, 1000 + c, -2));
    auto& pool = pools[c];
    for (int i = static_cast<int>(pool.size()) - 1; i > 0; --i) std::swap(pool[i], pool[uniform_int(rng, 0, i)]);
  }
  for (int i = 0; i < count; ++i) {
    const auto& pool = pools[specs[i].label];
    const size_t at = static_cast<size_t>(skip) + i / 10;
    if (at >= pool.size())
      throw UsageError(fmt::format("fashion-wsol: the {} split needs more than the {} items of class '{}'", split,
                                   pool.size(), kFashionClassNames[specs[i].label]));
    specs[i].item = pool[at];
  }
  return specs;
}

// Smooth coloured noise: a base colour plus two octaves of bilinearly interpolated random lattices
// (a shared luminance one and one per channel). No per-pixel noise: it would only make the PNGs large
// and slow to compress.
Image background(int side, std::mt19937& rng) {
  auto lattice = [&](int cells, double amplitude) {
    std::vector<double> g(static_cast<size_t>(cells + 1) * (cells + 1));
    for (double& v : g) v = uniform_real(rng, -amplitude, amplitude);
    return g;
  };
  auto sample = [](const std::vector<double>& g, int cells, double u, double v) {
    const double fx = u * cells, fy = v * cells;
    const int ix = std::min(static_cast<int>(fx), cells - 1), iy = std::min(static_cast<int>(fy), cells - 1);
    const double ax = fx - ix, ay = fy - iy;
    auto at = [&](int x, int y) { return g[static_cast<size_t>(y) * (cells + 1) + x]; };
    return (at(ix, iy) * (1 - ax) + at(ix + 1, iy) * ax) * (1 - ay) + (at(ix, iy + 1) * (1 - ax) + at(ix + 1, iy + 1) * ax) * ay;
  };
  const auto coarse = lattice(3, 45), fine = lattice(9, 18);
  std::array<std::vector<double>, 3> tint;
  std::array<double, 3> base;
  for (int c = 0; c < 3; ++c) {
    tint[c] = lattice(4, 25);
    base[c] = uniform_real(rng, 50, 140);
  }
  Image img(side, side, 3);
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      const double u = (x + 0.5) / side, v = (y + 0.5) / side;
      const double lum = sample(coarse, 3, u, v) + sample(fine, 9, u, v);
      for (int c = 0; c < 3; ++c) {
        const double value = base[c] + lum + sample(tint[c], 4, u, v);
        img.at(x, y, c) = static_cast<std::uint8_t>(std::clamp(std::lround(value), 0l, 255l));
      }
    }
  return img;
}

// Alpha-blends a colour into the canvas through a gray alpha image placed at (x, y).
void paste(Image& canvas, const Image& alpha, int x, int y, const std::array<double, 3>& colour, double opacity) {
  for (int r = 0; r < alpha.height; ++r)
    for (int q = 0; q < alpha.width; ++q) {
      const double a = opacity * alpha.at(q, r) / 255.0;
      if (a == 0.0) continue;
      for (int c = 0; c < 3; ++c) {
        std::uint8_t& p = canvas.at(x + q, y + r, c);
        p = static_cast<std::uint8_t>(std::lround(p + a * (colour[c] - p)));
      }
    }
}

Image box_blur(const Image& in, int radius) {
  Image out(in.width, in.height, 1);
  for (int y = 0; y < in.height; ++y)
    for (int x = 0; x < in.width; ++x) {
      int sum = 0, n = 0;
      for (int dy = -radius; dy <= radius; ++dy)
        for (int dx = -radius; dx <= radius; ++dx) {
          const int xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= in.width || yy >= in.height) continue;
          sum += in.at(xx, yy);
          ++n;
        }
      out.at(x, y) = static_cast<std::uint8_t>((sum + n / 2) / n);
    }
  return out;
}

// The bounding box of the nonzero pixels of a gray image; nullopt when all are zero.
std::optional<Box> nonzero_box(const Image& img) {
  Box b{img.width, img.height, -1, -1};
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (img.at(x, y) > 0) {
        b.x0 = std::min(b.x0, x);
        b.y0 = std::min(b.y0, y);
        b.x1 = std::max(b.x1, x + 1);
        b.y1 = std::max(b.y1, y + 1);
      }
  if (b.x1 < 0) return std::nullopt;
  return b;
}

bool overlaps(const Box& a, const Box& b) { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1; }

std::array<double, 3> bright_colour(std::mt19937& rng) {
  return {uniform_real(rng, 150, 255), uniform_real(rng, 150, 255), uniform_real(rng, 150, 255)};
}

struct Sample {
  Image canvas;
  Box box;
  Image mask;  // canvas-sized, 255 on the item's pixels (only with write_masks)
};

class CanvasMaker {
 public:
  CanvasMaker(const ItemBank& bank, const FashionWsolOptions& o) : bank_(bank), o_(o) {}

  Sample make(const SampleSpec& spec, std::uint64_t seed) const {
    std::mt19937 rng = make_rng(seed);
    const int side = o_.canvas;
    Sample s{background(side, rng), {}};

    // The item: upscaled, faint interpolation ramps cut, placed wholly inside the canvas.
    const Image item = spec.item >= 0 ? bank_.item(spec.item) : procedural_item(spec.label, rng());
    const int item_side = static_cast<int>(std::lround(side * uniform_real(rng, o_.min_scale, o_.max_scale)));
    Image alpha = resize_bilinear(item, item_side, item_side);
    for (auto& p : alpha.pixels)
      if (p < kAlphaFloor) p = 0;
    const std::optional<Box> local = nonzero_box(alpha);
    if (!local) throw InputError(fmt::format("fashion-wsol: item {} of class {} is blank", spec.item, spec.label));
    const int x = uniform_int(rng, 0, side - item_side), y = uniform_int(rng, 0, side - item_side);
    s.box = {x + local->x0, y + local->y0, x + local->x1, y + local->y1};

    // Distractors: blurred, low-contrast pieces (at most ~55% of each side) of other items, kept off the
    // item's box so that the box stays exact; a fragment with no free place is dropped. Pieces that cut
    // through an item's outline (partly empty) are preferred: a piece from inside a garment is a plain
    // rectangle, which a localizer would learn to ignore by shape alone.
    const int fragments = uniform_int(rng, 2, 4);
    for (int f = 0; f < fragments; ++f) {
      const Image source = bank_.procedural() ? procedural_item(uniform_int(rng, 0, 9), rng())
                                              : bank_.item(uniform_int(rng, 0, bank_.images.count - 1));
      Image piece;
      for (int attempt = 0; attempt < 10; ++attempt) {
        const int pw = uniform_int(rng, 9, 16), ph = uniform_int(rng, 9, 16);
        piece = crop(source, uniform_int(rng, 0, source.width - pw), uniform_int(rng, 0, source.height - ph), pw, ph);
        const double filled = static_cast<double>(std::count_if(piece.pixels.begin(), piece.pixels.end(),
                                                                [](std::uint8_t p) { return p >= kAlphaFloor; })) /
                              piece.pixels.size();
        if (filled > 0.25 && filled < 0.75) break;
      }
      const int pw = piece.width, ph = piece.height;
      const double scale = side * uniform_real(rng, o_.min_scale, o_.max_scale) / source.width;
      const int w = std::max(1, static_cast<int>(std::lround(pw * scale)));
      const int h = std::max(1, static_cast<int>(std::lround(ph * scale)));
      const Image blurred = box_blur(resize_bilinear(piece, w, h), uniform_int(rng, 1, 2));
      const std::array<double, 3> colour = bright_colour(rng);
      const double opacity = uniform_real(rng, 0.35, 0.6);
      for (int attempt = 0; attempt < 20; ++attempt) {
        const int fx = uniform_int(rng, 0, side - w), fy = uniform_int(rng, 0, side - h);
        if (overlaps({fx, fy, fx + w, fy + h}, s.box)) continue;
        paste(s.canvas, blurred, fx, fy, colour, opacity);
        break;
      }
    }
    paste(s.canvas, alpha, x, y, bright_colour(rng), 1.0);
    if (o_.write_masks) {
      s.mask = Image(side, side, 1, 0);
      for (int r = 0; r < item_side; ++r)
        for (int q = 0; q < item_side; ++q)
          if (alpha.at(q, r) > 0) s.mask.at(x + q, y + r) = 255;
    }
    return s;
  }

 private:
  const ItemBank& bank_;
  const FashionWsolOptions& o_;
};

std::string class_folder(int label) {
  std::string name = kFashionClassNames[label];
  std::replace(name.begin(), name.end(), '/', '_');
  std::replace(name.begin(), name.end(), ' ', '_');
  return fmt::format("{:02d}_{}", label, name);
}

std::string image_id(int split, int index, int label) {
  return fmt::format("{}/{}/{}_{:05d}.png", kSplitNames[split], class_folder(label), kSplitNames[split], index);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f.flush()) throw InputError(path.string() + ": cannot write");
}

// A one-line progress bar with ETA on stderr, drawn only when stderr is a terminal.
class Progress {
 public:
  Progress(std::string label, int total, bool enabled)
      : label_(std::move(label)), total_(total), enabled_(enabled && isatty(STDERR_FILENO)),
        start_(std::chrono::steady_clock::now()) {}
  void update(int done, bool force = false) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = done > 0 ? elapsed * (total_ - done) / done : 0.0;
    const int width = 30, filled = total_ > 0 ? width * done / total_ : width;
    std::cerr << fmt::format("\r{} [{}{}] {}/{} {:.1f} s, ETA {:.1f} s ", label_, std::string(filled, '#'),
                             std::string(width - filled, '.'), done, total_, elapsed, eta)
              << std::flush;
  }
  void finish() {
    update(total_, true);
    if (enabled_) std::cerr << "\n";
  }

 private:
  std::string label_;
  int total_;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_{};
};

void validate(const FashionWsolOptions& o) {
  if (o.out_dir.empty()) throw UsageError("fashion-wsol: --out is required");
  if (o.canvas < 32 || o.canvas > 4096) throw UsageError("fashion-wsol: --canvas must be in 32..4096");
  if (o.train < 0 || o.val < 0 || o.test < 0 || o.train + o.val + o.test == 0)
    throw UsageError("fashion-wsol: split sizes must be >= 0 and not all 0");
  if (!(o.min_scale > 0 && o.min_scale <= o.max_scale && o.max_scale <= 1))
    throw UsageError("fashion-wsol: need 0 < min_scale <= max_scale <= 1");
}

}  // namespace

FashionWsolSummary generate_fashion_wsol(const FashionWsolOptions& o) {
  validate(o);
  // Train canvases show items of Fashion-MNIST's train set; val and test show disjoint t10k items.
  std::optional<ItemBank> train_bank = load_bank(o.fashion_dir, "train");
  std::optional<ItemBank> eval_bank = load_bank(o.fashion_dir, "t10k");
  const bool procedural = !train_bank || !eval_bank;
  if (procedural) {
    std::cerr << "fashion-wsol: Fashion-MNIST IDX files not found under " << o.fashion_dir
              << " (Debian package dataset-fashion-mnist); using the procedural fallback items "
                 "(parametric shapes per class)\n";
    train_bank = eval_bank = ItemBank{};
  }
  const std::array<const ItemBank*, kSplitCount> banks = {&*train_bank, &*eval_bank, &*eval_bank};
  const std::array<int, kSplitCount> counts = {o.train, o.val, o.test};
  const std::array<int, kSplitCount> skips = {0, 0, (o.val + 9) / 10};  // test after val's items

  FashionWsolSummary summary;
  summary.source = procedural ? "procedural" : "fashion-mnist";
  const fs::path meta = fs::path(o.out_dir) / "metadata" / "FashionWSOL";
  const fs::path images = fs::path(o.out_dir) / "images";
  const fs::path masks = fs::path(o.out_dir) / "masks";
  summary.metadata_dir = meta.string();
  summary.image_root = images.string();
  std::error_code ec;
  for (int s = 0; s < kSplitCount; ++s) {
    fs::create_directories(meta / kSplitNames[s], ec);
    for (int c = 0; c < 10 && !ec; ++c) {
      fs::create_directories(images / kSplitNames[s] / class_folder(c), ec);
      if (o.write_masks && !ec) fs::create_directories(masks / kSplitNames[s] / class_folder(c), ec);
    }
    if (ec) throw InputError(o.out_dir + ": cannot create the dataset folders (" + ec.message() + ")");
  }

  Progress progress("fashion-wsol", o.train + o.val + o.test, o.progress);
  std::atomic<int> done{0};
  for (int s = 0; s < kSplitCount; ++s) {
    const std::vector<SampleSpec> specs = plan_split(counts[s], *banks[s], o.seed, skips[s], kSplitNames[s]);
    const CanvasMaker maker(*banks[s], o);
    std::vector<Box> boxes(specs.size());
    // Each sample has its own seed, so threads may make them in any order with the same bytes.
    std::atomic<int> next{0};
    std::mutex error_mutex;
    std::exception_ptr error;
    auto work = [&](bool report) {
      try {
        for (int i; (i = next++) < counts[s];) {
          check_stop();
          const Sample sample = maker.make(specs[i], sample_seed(o.seed, s, i));
          const std::string id = image_id(s, i, specs[i].label);
          write_png((images / id).string(), sample.canvas);
          if (o.write_masks) write_png((masks / id).string(), sample.mask);
          boxes[i] = sample.box;
          ++done;
          if (report) progress.update(done);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = counts[s];
      }
    };
    std::vector<std::thread> helpers;
    for (int t = 1; t < std::max(o.num_threads, 1); ++t) helpers.emplace_back(work, false);
    work(true);
    for (std::thread& t : helpers) t.join();
    if (error) std::rethrow_exception(error);

    std::string ids, labels, sizes, boxes_text;
    for (int i = 0; i < counts[s]; ++i) {
      const std::string id = image_id(s, i, specs[i].label);
      const Box& b = boxes[i];
      ids += id + "\n";
      labels += fmt::format("{},{}\n", id, specs[i].label);
      sizes += fmt::format("{},{},{}\n", id, o.canvas, o.canvas);
      boxes_text += fmt::format("{},{},{},{},{}\n", id, b.x0, b.y0, b.x1, b.y1);
    }
    const fs::path dir = meta / kSplitNames[s];
    write_text(dir / "image_ids.txt", ids);
    write_text(dir / "class_labels.txt", labels);
    write_text(dir / "image_sizes.txt", sizes);
    write_text(dir / "localization.txt", boxes_text);
  }
  progress.finish();

  std::string classes;
  for (const char* name : kFashionClassNames) classes += std::string(name) + "\n";
  write_text(meta / "classes.txt", classes);
  const nlohmann::json manifest = {
      {"generator", "tedloc data fashion-wsol"}, {"format_version", 1},          {"source", summary.source},
      {"seed", o.seed},                          {"canvas", o.canvas},           {"min_scale", o.min_scale},
      {"max_scale", o.max_scale},                {"alpha_floor", kAlphaFloor}, {"masks", o.write_masks},
      {"splits", {{"train", o.train}, {"val", o.val}, {"test", o.test}}}};
  write_text(meta / "dataset.json", manifest.dump(2) + "\n");  // last: its presence means the dataset is complete
  summary.images = o.train + o.val + o.test;
  return summary;
}

}  // namespace tedloc::data
