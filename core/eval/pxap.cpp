#include "tedloc/eval/pxap.hpp"

#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "tedloc/eval/box_eval.hpp"
#include "tedloc/error.hpp"

namespace tedloc::eval {
namespace {

void png_error_to_longjmp(png_structp png, png_const_charp message) {
  auto* text = static_cast<std::string*>(png_get_error_ptr(png));
  if (text) *text = message;
  png_longjmp(png, 1);
}
void png_ignore_warning(png_structp, png_const_charp) {}

// NumPy's pairwise sum (numpy/core/src/umath/loops_utils.h.src), so that PxAP matches the reference to the bit.
double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

}  // namespace

GrayImage read_png_gray(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) throw InputError(path + ": cannot open");
  std::string message;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &message, png_error_to_longjmp, png_ignore_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) throw InputError(path + ": out of memory");
  GrayImage img;
  std::vector<png_bytep> rows;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    throw InputError(path + ": bad PNG (" + message + ")");
  }
  png_init_io(png, file.get());
  png_read_info(png, info);
  const int color = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  // The transforms of OpenCV 4.6's PngDecoder::readData for an 8-bit grey result.
  if (depth > 8) png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((color & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color & PNG_COLOR_MASK_COLOR) png_set_rgb_to_gray(png, 1, 0.299, 0.587);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  img.width = static_cast<int>(png_get_image_width(png, info));
  img.height = static_cast<int>(png_get_image_height(png, info));
  if (png_get_rowbytes(png, info) != static_cast<std::size_t>(img.width) || img.height <= 0 || img.width <= 0 ||
      static_cast<std::size_t>(img.width) * img.height > (std::size_t{1} << 28)) {
    message = "unsupported image size or layout";
    longjmp(png_jmpbuf(png), 1);
  }
  img.pixels.resize(static_cast<std::size_t>(img.width) * img.height);
  rows.resize(img.height);
  for (int y = 0; y < img.height; ++y) rows[y] = img.pixels.data() + static_cast<std::size_t>(y) * img.width;
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return img;
}

GrayImage resize_nearest(const GrayImage& image, int width, int height) {
  GrayImage out{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height)};
  const double ifx = 1. / (static_cast<double>(width) / image.width);
  const double ify = 1. / (static_cast<double>(height) / image.height);
  std::vector<int> sx(width);
  for (int x = 0; x < width; ++x) sx[x] = std::min(static_cast<int>(std::floor(x * ifx)), image.width - 1);
  for (int y = 0; y < height; ++y) {
    const int syy = std::min(static_cast<int>(std::floor(y * ify)), image.height - 1);
    for (int x = 0; x < width; ++x)
      out.pixels[static_cast<std::size_t>(y) * width + x] = image.pixels[static_cast<std::size_t>(syy) * image.width + sx[x]];
  }
  return out;
}

std::vector<std::uint8_t> ground_truth_mask(const std::string& mask_root, const MaskPaths& paths, int size) {
  const auto on_mask = [&](const std::string& rel) {  // float32 > 0.5 of an 8-bit value: nonzero
    const GrayImage m = resize_nearest(read_png_gray((std::filesystem::path(mask_root) / rel).string()), size, size);
    return m.pixels;
  };
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(size) * size, 0);
  for (const std::string& rel : paths.masks) {
    const auto m = on_mask(rel);
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] |= m[i] > 0 ? 1 : 0;
  }
  if (!paths.ignore.empty()) {
    const auto ignore = on_mask(paths.ignore);
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (ignore[i] > 0 && labels[i] == 0) labels[i] = 255;
  }
  return labels;
}

PxapHistograms make_pxap_histograms(double interval) {
  PxapHistograms h;
  h.edges = cam_thresholds(interval);
  h.edges.insert(h.edges.end(), {1.0, 2.0, 3.0});
  h.fg.assign(h.edges.size() - 1, 0);
  h.bg.assign(h.edges.size() - 1, 0);
  return h;
}

void accumulate(PxapHistograms& h, const std::vector<double>& scores, const std::vector<std::uint8_t>& labels) {
  if (scores.size() != labels.size()) throw InputError("PxAP needs a 224 x 224 score map");
  const std::size_t bins = h.fg.size();
  const std::size_t n = bins - 2;  // cam thresholds
  const double step = h.edges.size() > 4 ? h.edges[1] : 1.0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] == 255) continue;
    const double v = scores[i];
    // np.histogram: bin j iff edges[j] <= v < edges[j + 1] (the last bin closed); v is in [0, 1].
    if (!(v >= 0.0 && v <= 1.0)) throw InputError("PxAP: score " + std::to_string(v) + " is NaN or outside [0, 1]");
    // np.histogram: bin j iff edges[j] <= v < edges[j + 1]; a score of 1 falls in [1, 2).
    std::size_t j = n;
    if (v < 1.0) {
      j = std::min(static_cast<std::size_t>(v / step), n - 1);
      while (j + 1 < n && h.edges[j + 1] <= v) ++j;
      while (j > 0 && h.edges[j] > v) --j;
    }
    (labels[i] == 1 ? h.fg : h.bg)[j] += 1;
  }
}

void merge(PxapHistograms& total, const PxapHistograms& part) {
  for (std::size_t j = 0; j < total.fg.size(); ++j) {
    total.fg[j] += part.fg[j];
    total.bg[j] += part.bg[j];
  }
}

double pxap(const PxapHistograms& h) {
  const std::size_t bins = h.fg.size();
  std::vector<double> tp(bins), fp(bins);
  double cum_t = 0, cum_f = 0;
  for (std::size_t k = 0; k < bins; ++k) {  // cumulative sums from the last bin backwards
    cum_t += static_cast<double>(h.fg[bins - 1 - k]);
    cum_f += static_cast<double>(h.bg[bins - 1 - k]);
    tp[k] = cum_t;
    fp[k] = cum_f;
  }
  const double num_true = cum_t;
  if (num_true <= 0) throw InputError("PxAP: no foreground pixel in the split");
  if (fp[bins - 1] + tp[bins - 1] <= 0) throw InputError("PxAP: no positive prediction in the split");
  std::vector<double> terms;
  double prev_recall = tp[0] / num_true;
  for (std::size_t k = 1; k < bins; ++k) {
    const double recall = tp[k] / num_true;
    if (tp[k] + fp[k] != 0) terms.push_back(tp[k] / (tp[k] + fp[k]) * (recall - prev_recall));
    prev_recall = recall;
  }
  return pairwise_sum(terms.data(), terms.size()) * 100;
}

}  // namespace tedloc::eval
