// Resize, crop, flip and normalisation of the wsolevaluation protocol.
#include "tedloc/data/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "tedloc/data/random.hpp"
#include "tedloc/error.hpp"

namespace tedloc::data {

std::string AugmentationKey::str() const {
  if (!train) return "eval:r" + std::to_string(resize);
  return "train:r" + std::to_string(resize) + ":c" + std::to_string(crop) + ":x" + std::to_string(crop_x) + ":y" +
         std::to_string(crop_y) + ":f" + (flip ? "1" : "0");
}

void validate(const TransformOptions& o) {
  if (o.crop_size <= 0 || o.resize_size <= 0) throw UsageError("transform: resize_size and crop_size must be positive");
  if (o.train && o.crop_size > o.resize_size)
    throw UsageError("transform: crop_size " + std::to_string(o.crop_size) + " exceeds resize_size " +
                     std::to_string(o.resize_size));
  for (float s : o.std)
    if (!(s > 0.f)) throw UsageError("transform: every std must be > 0");
}

AugmentationKey sample_augmentation(const TransformOptions& o, std::uint64_t seed) {
  AugmentationKey key;
  key.train = o.train;
  if (!o.train) {
    key.resize = key.crop = o.crop_size;
    return key;
  }
  key.resize = o.resize_size;
  key.crop = o.crop_size;
  const int slack = o.resize_size - o.crop_size;
  std::mt19937 rng = make_rng(seed);
  if (o.random_crop) {
    key.crop_y = uniform_int(rng, 0, slack);
    key.crop_x = uniform_int(rng, 0, slack);
  } else {  // torchvision's CenterCrop: int(round(slack / 2)), round half to even
    key.crop_y = key.crop_x = static_cast<int>(std::nearbyint(slack / 2.0));
  }
  key.flip = o.random_flip && uniform01(rng) < 0.5;
  return key;
}

namespace {

// PIL's Resample.c, 8 bits per channel: coefficients in fixed point with 22 fractional bits.
constexpr int kPrecisionBits = 32 - 8 - 2;

// For each output index, the first input index and the fixed-point weights of the input window.
struct ResampleCoefficients {
  int taps = 0;                  // weights per output index
  std::vector<int> first;        // first input index
  std::vector<int> count;        // inputs used (<= taps)
  std::vector<std::int32_t> w;   // taps weights per output index
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// PIL's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter (support 1).
ResampleCoefficients bilinear_coefficients(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  ResampleCoefficients c;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.w.assign(static_cast<size_t>(out_size) * c.taps, 0);
  std::vector<double> k(c.taps);
  const double inv_filter_scale = 1.0 / filter_scale;  // PIL multiplies by the inverse (bit-exact weights)
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    const int n = hi - lo;
    double total = 0.0;
    for (int i = 0; i < n; ++i) total += k[i] = triangle((i + lo - center + 0.5) * inv_filter_scale);
    for (int i = 0; i < n; ++i) {
      const double v = total != 0.0 ? k[i] / total : k[i];
      c.w[static_cast<size_t>(o) * c.taps + i] =
          static_cast<std::int32_t>(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    c.first[o] = lo;
    c.count[o] = n;
  }
  return c;
}

// PIL accumulates in int: weights are non-negative and sum to ~2^22, so 255 * 2^22 never overflows.
std::uint8_t clip8(std::int32_t acc) { return static_cast<std::uint8_t>(std::clamp(acc >> kPrecisionBits, 0, 255)); }

// The horizontal pass, for C interleaved channels known at compile time (one weight load per tap).
template <int C>
void resample_rows(const Image& in, const ResampleCoefficients& c, Image& out) {
  for (int y = 0; y < in.height; ++y) {
    const std::uint8_t* row = &in.pixels[static_cast<size_t>(y) * in.width * C];
    std::uint8_t* dst = &out.pixels[static_cast<size_t>(y) * out.width * C];
    for (int x = 0; x < out.width; ++x) {
      const std::int32_t* w = &c.w[static_cast<size_t>(x) * c.taps];
      const std::uint8_t* src = row + static_cast<size_t>(c.first[x]) * C;
      std::int32_t acc[C];
      for (int k = 0; k < C; ++k) acc[k] = 1 << (kPrecisionBits - 1);
      for (int i = 0; i < c.count[x]; ++i)
        for (int k = 0; k < C; ++k) acc[k] += src[i * C + k] * w[i];
      for (int k = 0; k < C; ++k) dst[x * C + k] = clip8(acc[k]);
    }
  }
}

Image resample_horizontal(const Image& in, int width) {
  const ResampleCoefficients c = bilinear_coefficients(in.width, width);
  Image out(width, in.height, in.channels);
  if (in.channels == 3)
    resample_rows<3>(in, c, out);
  else if (in.channels == 1)
    resample_rows<1>(in, c, out);
  else
    throw std::invalid_argument("resize_bilinear: 1 or 3 channels expected");
  return out;
}

Image resample_vertical(const Image& in, int height) {
  const ResampleCoefficients c = bilinear_coefficients(in.height, height);
  Image out(in.width, height, in.channels);
  const size_t row_len = static_cast<size_t>(in.width) * in.channels;
  std::vector<std::int32_t> acc(row_len);
  for (int y = 0; y < height; ++y) {
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    const std::int32_t* w = &c.w[static_cast<size_t>(y) * c.taps];
    for (int i = 0; i < c.count[y]; ++i) {
      const std::uint8_t* src = &in.pixels[static_cast<size_t>(c.first[y] + i) * row_len];
      for (size_t j = 0; j < row_len; ++j) acc[j] += src[j] * w[i];
    }
    std::uint8_t* dst = &out.pixels[static_cast<size_t>(y) * row_len];
    for (size_t j = 0; j < row_len; ++j) dst[j] = clip8(acc[j]);
  }
  return out;
}

}  // namespace

Image resize_bilinear(const Image& in, int width, int height) {
  if (width <= 0 || height <= 0 || in.width <= 0 || in.height <= 0)
    throw std::invalid_argument("resize_bilinear: empty image or target");
  // PIL skips a pass whose size does not change (the pass would be the identity anyway).
  if (width == in.width && height == in.height) return in;
  if (width == in.width) return resample_vertical(in, height);
  if (height == in.height) return resample_horizontal(in, width);
  return resample_vertical(resample_horizontal(in, width), height);
}

Image crop(const Image& in, int x, int y, int width, int height) {
  if (x < 0 || y < 0 || width < 0 || height < 0 || x + width > in.width || y + height > in.height)
    throw std::out_of_range("crop: window leaves the image");
  Image out(width, height, in.channels);
  const size_t row = static_cast<size_t>(width) * in.channels;
  for (int r = 0; r < height; ++r)
    std::copy_n(&in.pixels[(static_cast<size_t>(y + r) * in.width + x) * in.channels], row,
                &out.pixels[static_cast<size_t>(r) * row]);
  return out;
}

void flip_horizontal(Image& image) {
  const int ch = image.channels;
  for (int y = 0; y < image.height; ++y) {
    std::uint8_t* row = &image.pixels[static_cast<size_t>(y) * image.width * ch];
    for (int a = 0, b = image.width - 1; a < b; ++a, --b)
      std::swap_ranges(row + a * ch, row + (a + 1) * ch, row + b * ch);
  }
}

Image apply_transform(const Image& in, const AugmentationKey& key) {
  Image out = resize_bilinear(in, key.resize, key.resize);
  if (!key.train) return out;
  if (key.crop != key.resize || key.crop_x != 0 || key.crop_y != 0)
    out = crop(out, key.crop_x, key.crop_y, key.crop, key.crop);
  if (key.flip) flip_horizontal(out);
  return out;
}

void to_normalised_chw(const Image& image, const std::array<float, 3>& mean, const std::array<float, 3>& std,
                       float* out) {
  if (image.channels != 3) throw std::invalid_argument("to_normalised_chw: RGB image expected");
  const size_t plane = static_cast<size_t>(image.width) * image.height;
  for (int c = 0; c < 3; ++c) {
    // torchvision: x.float().div(255) then .sub_(mean).div_(std), all in float32; tabulated per level.
    float table[256];
    for (int v = 0; v < 256; ++v) table[v] = (static_cast<float>(v) / 255.f - mean[c]) / std[c];
    float* dst = out + c * plane;
    for (size_t i = 0; i < plane; ++i) dst[i] = table[image.pixels[3 * i + c]];
  }
}

}  // namespace tedloc::data
