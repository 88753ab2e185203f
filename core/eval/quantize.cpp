// The box evaluator, part 1: the cam thresholds, quantisation of a score map as the reference does, box IoU.
#include "tedloc/eval/box_eval.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tedloc/error.hpp"

namespace tedloc::eval {

std::vector<double> cam_thresholds(double interval) {
  if (!(interval > 0 && interval <= 1)) throw InputError("cam curve interval must be in (0, 1]");
  // np.arange's length ceil((stop - start) / step), values start + i * step.
  const auto n = static_cast<std::size_t>(std::ceil(1.0 / interval));
  std::vector<double> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<double>(i) * interval;
  return t;
}

namespace {

// out[i] = uint8(double(values[i]) * 255) (truncated, numpy's astype(uint8) of the float64 map); returns whether
// every value is in [0, 1] (NaN is not). One pass, on the bits so that the loop vectorises (the compiler does not
// vectorise a reduction over floating-point comparisons). With mag the bits without the sign: a value is in
// [0, 1] iff mag <= the bits of 1.0 and (the sign is clear or mag == 0, i.e. -0.0); mag < 2^(bits-1), so
// kOne - mag has its top bit set iff mag > kOne, and a & -mag iff the sign is set and mag != 0. F is float
// (straight from a float32 file: widening is exact) or double.
template <class F, class U>
bool quantize_values(const unsigned char* bytes, std::size_t n, std::uint8_t* out) {
  static_assert(sizeof(F) == sizeof(U));
  constexpr int kTop = 8 * sizeof(U) - 1;
  constexpr U kOne = sizeof(U) == 8 ? U(0x3FF0000000000000u) : U(0x3F800000u);
  U violation = 0;
  for (std::size_t i = 0; i < n; ++i) {
    U a;
    std::memcpy(&a, bytes + i * sizeof a, sizeof a);
    const U mag = static_cast<U>(a << 1) >> 1;
    const U bad = static_cast<U>((kOne - mag) | (a & (0 - mag)));
    violation |= bad;
    a &= static_cast<U>((bad >> kTop) - 1);  // a bad value becomes 0.0, so that the conversion stays defined
    F v;
    std::memcpy(&v, &a, sizeof v);
    out[i] = static_cast<std::uint8_t>(static_cast<int>(static_cast<double>(v) * 255.0));
  }
  return violation >> kTop == 0;
}

// The quantised map of `values` (F: float or double), or the InputError naming the first invalid value.
template <class F, class U>
QuantizedMap quantize(const unsigned char* values, int height, int width, const std::string& name) {
  if (height <= 0 || width <= 0) throw InputError(name + ": empty score map");
  QuantizedMap q;
  q.height = height;
  q.width = width;
  const std::size_t n = static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  q.values.resize(n);
  if (!quantize_values<F, U>(values, n, q.values.data())) {
    for (std::size_t i = 0; i < n; ++i) {
      F f;
      std::memcpy(&f, values + i * sizeof f, sizeof f);
      const double v = f;
      if (!(v >= 0.0 && v <= 1.0))
        throw InputError(name + ": score map value " + std::to_string(v) + " at index " + std::to_string(i) +
                         " is NaN or outside [0, 1]");
    }
  }
  q.max = *std::max_element(q.values.begin(), q.values.end());
  return q;
}

void check_map_shape(const std::vector<std::size_t>& shape, const std::string& name) {
  if (shape.size() != 2)
    throw InputError(name + ": score map must be 2-D, got " + std::to_string(shape.size()) + " dimensions");
  if (shape[0] > 1 << 15 || shape[1] > 1 << 15) throw InputError(name + ": score map larger than 32768");
}

}  // namespace

QuantizedMap quantize_scoremap(const double* values, int height, int width, const std::string& name) {
  return quantize<double, std::uint64_t>(reinterpret_cast<const unsigned char*>(values), height, width, name);
}

QuantizedMap quantize_scoremap(const NpyArray& map, const std::string& name) {
  check_map_shape(map.shape, name);
  return quantize_scoremap(map.data.data(), static_cast<int>(map.shape[0]), static_cast<int>(map.shape[1]), name);
}

QuantizedMap read_scoremap(const std::string& path) {
  // A buffer per thread, kept at the last file's size: maps of one size are then read without zero-filling.
  thread_local std::string bytes;
  read_file_bytes(path, bytes);
  const NpyHeader header = parse_npy_header(bytes, path);
  if (header.dtype != "<f4" || header.fortran_order) return quantize_scoremap(parse_npy(bytes, path), path);
  check_map_shape(header.shape, path);
  return quantize<float, std::uint32_t>(reinterpret_cast<const unsigned char*>(bytes.data()) + header.data_offset,
                                        static_cast<int>(header.shape[0]), static_cast<int>(header.shape[1]), path);
}

double box_iou(const Box& a, const Box& b) {
  const std::int64_t iw = std::max<std::int64_t>(0, std::int64_t{std::min(a.x1, b.x1)} - std::max(a.x0, b.x0) + 1);
  const std::int64_t ih = std::max<std::int64_t>(0, std::int64_t{std::min(a.y1, b.y1)} - std::max(a.y0, b.y0) + 1);
  const auto area = [](const Box& c) { return (std::int64_t{c.x1} - c.x0 + 1) * (std::int64_t{c.y1} - c.y0 + 1); };
  const std::int64_t inter = iw * ih;
  const std::int64_t denom = area(a) + area(b) - inter;
  return denom <= 0 ? 0.0 : static_cast<double>(inter) / static_cast<double>(denom);
}

}  // namespace tedloc::eval
