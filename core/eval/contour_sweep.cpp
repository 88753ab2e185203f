// The box evaluator, part 2: the sweep that finds, for every cam threshold of a map at once, the boxes
// cv2.findContours would give (see box_eval.hpp for the rules).
#include "tedloc/eval/box_eval.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tedloc/error.hpp"

namespace tedloc::eval {

namespace {

constexpr int kLevels = 256;
constexpr int kStrips = 4;  // row strips of the counting sort
constexpr int kPrefetchDistance = 12;  // pixels ahead in order_
// OpenCV's chain code directions: 0 right, then counter-clockwise (y grows downwards).
constexpr int kDx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kDy[8] = {0, -1, -1, -1, 0, 1, 1, 1};

// For a lit 3x3 neighbourhood (bit 3 * row + column, the centre bit 4 off): one neighbour per group of lit
// neighbours already known to share a component because they touch inside the window, keeping only the
// groups that reach the centre. With `eight` the groups are 8-connected (every ring cell reaches the centre),
// else 4-connected (corners only bridge, the centre is reached through bits 1, 3, 5, 7). The join then finds
// one root per group, usually a single one, instead of one per lit neighbour.
std::array<std::uint16_t, 512> neighbour_representatives(bool eight) {
  std::array<std::uint16_t, 512> table{};
  for (unsigned mask = 0; mask < 512; ++mask) {
    const unsigned lit = mask & ~16u;
    const auto touch = [&](int a, int b) {
      const int dx = std::abs(a % 3 - b % 3), dy = std::abs(a / 3 - b / 3);
      return eight ? std::max(dx, dy) == 1 : dx + dy == 1;
    };
    int group[9];
    for (int k = 0; k < 9; ++k) group[k] = k;
    for (bool changed = true; changed;) {  // smallest member's index per group, by relaxation
      changed = false;
      for (int a = 0; a < 9; ++a)
        for (int b = 0; b < 9; ++b)
          if ((lit >> a & 1) && (lit >> b & 1) && touch(a, b) && group[b] < group[a]) {
            group[a] = group[b];
            changed = true;
          }
    }
    unsigned seen = 0;
    for (int k = 0; k < 9; ++k) {
      const bool reaches = eight || k % 2 == 1;
      if ((lit >> k & 1) && reaches && !(seen >> group[k] & 1)) {
        seen |= 1u << group[k];
        table[mask] |= static_cast<std::uint16_t>(1u << k);
      }
    }
  }
  return table;
}

double best_iou_against(const Box& box, const std::vector<Box>& gt) {
  double best = 0;
  for (const Box& g : gt) best = std::max(best, box_iou(box, g));
  return best;
}

}  // namespace

// Receives the boxes of each wanted level, from both passes.
struct ContourSweep::LevelSink {
  const std::vector<Box>* gt = nullptr;                     // best-IoU mode
  std::vector<std::vector<Box>>* listing = nullptr;         // box-listing mode, per level
  std::vector<double> best = std::vector<double>(kLevels, 0.0);
  std::vector<int> count = std::vector<int>(kLevels, 0);

  void add(int level, const std::vector<Box>& boxes) {
    count[level] += static_cast<int>(boxes.size());
    if (listing) (*listing)[level].insert((*listing)[level].end(), boxes.begin(), boxes.end());
    if (gt)
      for (const Box& b : boxes) best[level] = std::max(best[level], best_iou_against(b, *gt));
  }
};

// Calls f(strip, pixel) for every inner pixel. Strip s holds the rows [s * rows, (s + 1) * rows); within a strip
// the calls follow raster order, and the strips' calls are interleaved so that work chained per strip (a counter
// bumped for runs of equal values) overlaps.
template <class F>
void ContourSweep::for_each_pixel_by_strips(int w, int h, int wp, F&& f) {
  const int rows = (h + kStrips - 1) / kStrips;
  for (int r = 0; r < rows; ++r) {
    int active = 0;  // strips that still have row r: a prefix
    while (active < kStrips && active * rows + r < h) ++active;
    const auto pixel = [&](int s, int x) {
      const int y = s * rows + r + 1;
      return Pixel{y * wp + x, static_cast<std::uint16_t>(x), static_cast<std::uint16_t>(y)};
    };
    if (active == kStrips) {
      for (int x = 1; x <= w; ++x)
        for (int s = 0; s < kStrips; ++s) f(s, pixel(s, x));
    } else {
      for (int s = 0; s < active; ++s)
        for (int x = 1; x <= w; ++x) f(s, pixel(s, x));
    }
  }
}

void ContourSweep::prepare(const QuantizedMap& map) {
  w_ = map.width;
  h_ = map.height;
  wp_ = w_ + 2;
  max_ = map.max;
  const std::size_t n = static_cast<std::size_t>(wp_) * static_cast<std::size_t>(h_ + 2);
  u_.assign(n, 0);
  for (int y = 0; y < h_; ++y)
    std::copy_n(map.values.begin() + static_cast<std::ptrdiff_t>(y) * w_, w_,
                u_.begin() + static_cast<std::ptrdiff_t>(y + 1) * wp_ + 1);
  // Counting sort by u, raster order within a value: per-strip counts, and cursors that put strip s's pixels
  // of value v after those of the strips above it.
  std::array<std::array<int, kLevels>, kStrips> cursor{};
  for_each_pixel_by_strips(w_, h_, wp_, [&](int s, Pixel p) { ++cursor[s][u_[p.index]]; });
  bucket_.assign(kLevels + 1, 0);
  for (int v = 0, next = 0; v < kLevels; ++v) {
    bucket_[v] = next;  // first slot of value v
    for (int s = 0; s < kStrips; ++s) {
      const int count = cursor[s][v];
      cursor[s][v] = next;
      next += count;
    }
    bucket_[v + 1] = next;
  }
  order_.resize(static_cast<std::size_t>(w_) * h_);
  for_each_pixel_by_strips(w_, h_, wp_, [&](int s, Pixel p) { order_[cursor[s][u_[p.index]]++] = p; });
  label_.resize(n);
  lit_.resize(n + 1);  // lit_neighbours reads 4 bytes from a row's left neighbour: one past the last pixel
  sets_.reserve(n);
}

// Only the per-pixel flags need clearing: a pixel's label is read only once it is lit.
void ContourSweep::reset_sets() {
  std::fill(lit_.begin(), lit_.end(), 0);
  sets_.clear();
  roots_.clear();
  euler4_total_ = 0;
}

// inline: without it -fPIC code may not inline these hot helpers (semantic interposition).
inline int ContourSweep::find(int c) {
  // Most sets are roots or hang right under one: two loads and a well-predicted branch, where the loop's
  // "is c a root" test would be a coin toss.
  const int r = sets_[c].parent;
  if (sets_[r].parent == r) return r;
  while (sets_[c].parent != c) {
    sets_[c].parent = sets_[sets_[c].parent].parent;
    c = sets_[c].parent;
  }
  return c;
}

inline void ContourSweep::add_root(Pixel p) {
  const int id = static_cast<int>(sets_.size());
  label_[p.index] = id;
  Component& c = sets_.emplace_back();
  c.parent = id;
  c.size = 1;
  c.x0 = c.x1 = p.x;
  c.y0 = c.y1 = p.y;
  c.start = p.index;  // padded indices keep raster order
  c.euler4 = 0;
  c.root_pos = static_cast<int>(roots_.size());
  c.quad_area2 = 0;
  c.dirty = true;
  c.outside = false;
  roots_.push_back(id);
}

// Adds pixel p to the component of `root`: most pixels join a neighbour's component, and this costs far less
// than a singleton set and a union.
inline void ContourSweep::attach(Pixel p, int root) {
  label_[p.index] = root;
  Component& c = sets_[root];
  ++c.size;
  c.x0 = std::min<int>(c.x0, p.x);
  c.y0 = std::min<int>(c.y0, p.y);
  c.x1 = std::max<int>(c.x1, p.x);
  c.y1 = std::max<int>(c.y1, p.y);
  c.start = std::min(c.start, p.index);
  c.dirty = true;
}

// Puts pixel p into one component with its joined neighbours p + offsets[i] (bit i of `neighbours` set): their
// components united, p attached, or p alone in a new one. Returns p's root.
inline int ContourSweep::join(Pixel p, const int* offsets, unsigned neighbours) {
  if (neighbours == 0) {
    add_root(p);
    return label_[p.index];
  }
  int root = find(label_[p.index + offsets[__builtin_ctz(neighbours)]]);
  for (unsigned m = neighbours & (neighbours - 1); m != 0; m &= m - 1) {
    const int q = label_[p.index + offsets[__builtin_ctz(m)]];
    if (q != root) root = unite(root, find(q));  // most joined neighbours carry the root's own label
  }
  attach(p, root);
  return root;
}

// Joins the sets of the roots r and s; the absorbed root leaves roots_. Returns the surviving root.
inline int ContourSweep::unite(int r, int s) {
  if (r == s) return r;
  if (sets_[r].size < sets_[s].size) std::swap(r, s);
  sets_[s].parent = r;
  Component& a = sets_[r];
  const Component& b = sets_[s];
  a.size += b.size;
  a.x0 = std::min(a.x0, b.x0);
  a.y0 = std::min(a.y0, b.y0);
  a.x1 = std::max(a.x1, b.x1);
  a.y1 = std::max(a.y1, b.y1);
  a.start = std::min(a.start, b.start);
  a.outside |= b.outside;
  a.quad_area2 += b.quad_area2;
  a.euler4 += b.euler4;
  a.dirty = true;
  const int pos = b.root_pos;
  roots_[pos] = roots_.back();
  sets_[roots_[pos]].root_pos = pos;
  roots_.pop_back();
  return r;
}

// Twice the cv2.contourArea of the outer border that starts at `start` (a component's top-most, then
// left-most pixel) in the binary image u > level: OpenCV's icvFetchContour followed step by step, the
// shoelace sum taken over the visited pixel centres (CHAIN_APPROX_SIMPLE drops only collinear points).
std::int64_t ContourSweep::outer_border_area2(int start, int level) const {
  int delta[16];
  for (int k = 0; k < 16; ++k) delta[k] = kDy[k & 7] * wp_ + kDx[k & 7];
  const auto on = [&](int q) { return u_[q] > level; };

  int s = 4;
  const int first_end = 4;
  int i1;
  do {
    s = (s - 1) & 7;
    i1 = start + delta[s];
  } while (!on(i1) && s != first_end);
  if (s == first_end) return 0;  // an isolated pixel

  const std::int64_t x0 = start % wp_, y0 = start / wp_;
  std::int64_t x = x0, y = y0, px = x0, py = y0, acc = 0;
  int i3 = start;
  for (;;) {
    int i4 = i3;
    while (s < 15) {
      i4 = i3 + delta[++s];
      if (on(i4)) break;
    }
    s &= 7;
    acc += px * y - py * x;  // the point i3 = (x, y) joins the polygon
    px = x;
    py = y;
    if (i4 == start && i3 == i1) break;
    i3 = i4;
    x += kDx[s];
    y += kDy[s];
    s = (s + 4) & 7;
  }
  acc += px * y0 - py * x0;
  return acc < 0 ? -acc : acc;
}

// Lights pixel p and updates its component's bit-quad counts over the four 2x2 windows that contain p. All on
// pixels of a window are 8-adjacent, so a window belongs to one component. For a component without holes the
// outer border polygon (through pixel centres) covers exactly its full windows and half of each 3-pixel window,
// so twice its area is 2 * n4 + n3; Gray's formula gives 4 * Euler number = n1 - n3 - 2 * nD (8-connectivity),
// i.e. the component has holes iff it differs from 4.
inline void ContourSweep::count_quads(int p, int root, unsigned nb) {
  struct Delta {
    int area2 = 0, euler4 = 0;
  };
  // Indexed by the lit 3x3 neighbourhood of p (bit 3 * row + column, p = bit 4 is off): the change of both sums
  // over the four 2x2 windows holding p when p lights up.
  static const std::array<Delta, 512> kDelta = [] {
    const auto quad = [](unsigned m, bool euler) {  // window bits: top-left 1, top-right 2, bottom-left 4, bottom-right 8
      const int on = __builtin_popcount(m);
      if (!euler) return on == 4 ? 2 : on == 3 ? 1 : 0;
      return on == 1 ? 1 : on == 3 ? -1 : (m == 0b1001 || m == 0b0110) ? -2 : 0;
    };
    std::array<Delta, 512> t{};
    for (unsigned hood = 0; hood < 512; ++hood)
      for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) {
          const int k = 3 * r + c;
          const unsigned before = ((hood >> k) & 1) | ((hood >> (k + 1)) & 1) << 1 | ((hood >> (k + 3)) & 1) << 2 |
                                  ((hood >> (k + 4)) & 1) << 3;
          const unsigned after = before | 1u << (3 - (2 * r + c));  // p is the opposite corner of each window
          t[hood].area2 += quad(after, false) - quad(before, false);
          t[hood].euler4 += quad(after, true) - quad(before, true);
        }
    return t;
  }();
  const std::int64_t darea = kDelta[nb & ~16u].area2;
  const int deuler = kDelta[nb & ~16u].euler4;
  lit_[p] = 1;
  sets_[root].quad_area2 += darea;
  sets_[root].euler4 += deuler;
  euler4_total_ += deuler;
}

// Pixels within a level lie far apart, so each one's neighbourhood is a cache miss: fetching the flags and
// labels of the pixel `k` places ahead in order_ overlaps those misses.
inline void ContourSweep::prefetch_neighbourhood(std::size_t k) const {
  if (k >= order_.size()) return;
  const int q = order_[k].index;
  for (const int row : {q - wp_, q, q + wp_}) {
    __builtin_prefetch(lit_.data() + row - 1);
    __builtin_prefetch(label_.data() + row - 1);
  }
}

// The lit 3x3 neighbourhood of p: bit 3 * row + column, p itself (bit 4) off.
// One 4-byte load per row: the flags b0, b1, b2 at bits 0, 8, 16 of w meet at bits 14, 15, 16 of
// w * (2^14 + 2^7 + 1), each bit of the product from one term, so without carries.
inline unsigned ContourSweep::lit_neighbours(int p) const {
  const auto row = [](const std::uint8_t* first) {
    std::uint32_t w;
    std::memcpy(&w, first, sizeof w);
    return (w * 0x4081u) >> 14 & 7u;
  };
  const std::uint8_t* l = lit_.data() + p - 1;
  return (row(l - wp_) | row(l) << 3 | row(l + wp_) << 6) & ~16u;
}

// Fg pass: levels from M - 1 down, adding the pixels with u == level + 1, 8-connectivity.
void ContourSweep::sweep_components(const std::vector<bool>& wanted, bool multi_contour, LevelSink& sink,
                                    std::vector<bool>& holed) {
  reset_sets();
  holed.assign(kLevels, false);
  const int n8[9] = {-wp_ - 1, -wp_, -wp_ + 1, -1, 0, 1, wp_ - 1, wp_, wp_ + 1};  // by lit_neighbours' bit
  static const auto kGroups8 = neighbour_representatives(true);
  int lowest = kLevels;
  for (int l = 0; l < kLevels; ++l)
    if (wanted[l]) {
      lowest = l;
      break;
    }
  for (int level = static_cast<int>(max_) - 1; level >= lowest; --level) {
    // Pixels join in raster order within a level; a neighbour counts once it has joined, so by the end of the
    // level the components are those of u > level.
    const int b = bucket_[level + 1], e = bucket_[level + 2];
    for (int k = b; k < e; ++k) {
      const Pixel p = order_[k];
      prefetch_neighbourhood(k + kPrefetchDistance);
      const unsigned nb = lit_neighbours(p.index);
      count_quads(p.index, join(p, n8, kGroups8[nb]), nb);  // lights p
    }
    if (!wanted[level]) continue;
    // Euler number = components - holes (8-connected fg, 4-connected holes).
    holed[level] = 4 * static_cast<std::int64_t>(roots_.size()) != euler4_total_;

    level_boxes_.clear();
    const auto box_of = [&](int r) {
      const Component& c = sets_[r];
      return Box{c.x0 - 1, c.y0 - 1, std::min(c.x1, w_ - 1), std::min(c.y1, h_ - 1)};
    };
    if (multi_contour) {
      for (int r : roots_) level_boxes_.push_back(box_of(r));
    } else if (!roots_.empty()) {
      // The largest contour area; ties go to the last start pixel in raster order (OpenCV lists sibling
      // borders in reverse discovery order, and a nested component never reaches its ancestor's area).
      // Bounds on twice the area: a clean component keeps its cached area; a hole-free one has its bit-quad
      // count; one with holes lies between that count (holes only add) and its pixel-centre bounding box.
      const auto lower = [&](int r) { return sets_[r].dirty ? sets_[r].quad_area2 : sets_[r].area2; };
      const auto upper = [&](int r) {
        const Component& c = sets_[r];
        if (!c.dirty || c.euler4 == 4) return lower(r);
        return 2 * std::int64_t{c.x1 - c.x0} * (c.y1 - c.y0);
      };
      std::int64_t floor = -1;
      for (int r : roots_) floor = std::max(floor, lower(r));
      candidates_.clear();
      for (int r : roots_)
        if (upper(r) >= floor) candidates_.push_back(r);  // the others are strictly smaller than some component
      int winner = candidates_.front();
      if (candidates_.size() > 1) {
        std::int64_t best = -1;
        for (int r : candidates_) {
          Component& c = sets_[r];
          if (c.dirty) {
            c.area2 = c.euler4 == 4 ? c.quad_area2 : outer_border_area2(c.start, level);
            c.dirty = false;
          }
          // Ties go to the last start pixel in raster order (OpenCV lists sibling borders in reverse discovery
          // order, and a nested component never reaches its ancestor's area).
          if (c.area2 > best || (c.area2 == best && c.start > sets_[winner].start)) {
            best = c.area2;
            winner = r;
          }
        }
      }
      level_boxes_.push_back(box_of(winner));
    }
    sink.add(level, level_boxes_);
  }
}

// Hole pass (multi-contour only): levels from 0 up, background u <= level grows, 4-connectivity. A background
// region cut off from the zero frame is a hole; its border runs through the foreground pixels around it, so
// its box is the region's bounding box grown by one pixel.
void ContourSweep::sweep_holes(const std::vector<bool>& wanted, LevelSink& sink) {
  int highest = -1;
  for (int l = 0; l < kLevels; ++l)
    if (wanted[l]) highest = l;
  highest = std::min(highest, static_cast<int>(max_) - 1);
  if (highest < 0) return;
  reset_sets();
  add_root(Pixel{0, 0, 0});  // the zero frame: set 0
  const auto join_frame = [&](int p) {
    label_[p] = 0;
    lit_[p] = 1;  // here: joined the background
  };
  for (int x = 0; x < wp_; ++x) {
    join_frame(x);
    join_frame((h_ + 1) * wp_ + x);
  }
  for (int y = 1; y <= h_; ++y) {
    join_frame(y * wp_);
    join_frame(y * wp_ + wp_ - 1);
  }
  sets_[0].size = 2 * (wp_ + h_);
  sets_[0].outside = true;
  const int n8[9] = {-wp_ - 1, -wp_, -wp_ + 1, -1, 0, 1, wp_ - 1, wp_, wp_ + 1};  // by lit_neighbours' bit
  static const auto kGroups4 = neighbour_representatives(false);
  for (int level = 0; level <= highest; ++level) {
    const int b = bucket_[level], e = bucket_[level + 1];
    for (int k = b; k < e; ++k) {
      const Pixel p = order_[k];
      join(p, n8, kGroups4[lit_neighbours(p.index)]);
      lit_[p.index] = 1;
    }
    if (!wanted[level]) continue;
    level_boxes_.clear();
    for (int r : roots_) {
      const Component& c = sets_[r];
      if (!c.outside) level_boxes_.push_back(Box{c.x0 - 2, c.y0 - 2, std::min(c.x1 + 1, w_ - 1), std::min(c.y1 + 1, h_ - 1)});
    }
    sink.add(level, level_boxes_);
  }
}

void ContourSweep::sweep(const QuantizedMap& map, const std::vector<double>& thresholds, bool multi_contour,
                         LevelSink& sink) {
  prepare(map);
  std::vector<bool> wanted(kLevels, false);
  for (double t : thresholds) {
    const int level = threshold_level(t, map.max);
    if (level < 0 || level >= kLevels) throw InputError("cam threshold " + std::to_string(t) + " outside [0, 1)");
    wanted[level] = true;
  }
  std::vector<bool> holed;  // wanted levels whose foreground has holes: the hole pass stops at the last one
  sweep_components(wanted, multi_contour, sink, holed);
  if (multi_contour) sweep_holes(holed, sink);
}

std::vector<std::vector<Box>> ContourSweep::boxes(const QuantizedMap& map, const std::vector<double>& thresholds,
                                                  bool multi_contour) {
  std::vector<std::vector<Box>> per_level(kLevels);
  LevelSink sink;
  sink.listing = &per_level;
  sweep(map, thresholds, multi_contour, sink);
  std::vector<std::vector<Box>> out;
  for (double t : thresholds) {
    const int level = threshold_level(t, map.max);
    out.push_back(sink.count[level] == 0 ? std::vector<Box>{Box{}} : per_level[level]);
  }
  return out;
}

MapCurve ContourSweep::best_iou(const QuantizedMap& map, const std::vector<Box>& gt,
                                const std::vector<double>& thresholds, bool multi_contour) {
  LevelSink sink;
  sink.gt = &gt;
  sweep(map, thresholds, multi_contour, sink);
  MapCurve curve;
  const double fallback = best_iou_against(Box{}, gt);
  for (double t : thresholds) {
    const int level = threshold_level(t, map.max);
    const bool none = sink.count[level] == 0;
    curve.best_iou.push_back(none ? fallback : sink.best[level]);
    curve.num_boxes.push_back(none ? 1 : sink.count[level]);
  }
  return curve;
}

}  // namespace tedloc::eval
