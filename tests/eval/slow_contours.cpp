#include "slow_contours.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace tedloc::eval::slow {
namespace {

constexpr int kDx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kDy[8] = {0, -1, -1, -1, 0, 1, 1, 1};

struct Border {
  Contour contour;
  int parent = 1;  // border number; 1 = the frame
  std::vector<int> children;
};

}  // namespace

std::vector<Contour> find_contours(const std::vector<std::uint8_t>& on, int h, int w) {
  const int wp = w + 2;
  std::vector<int> f(static_cast<std::size_t>(wp) * (h + 2), 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) f[(y + 1) * wp + x + 1] = on[y * w + x] ? 1 : 0;
  int delta[16];
  for (int k = 0; k < 16; ++k) delta[k] = kDy[k & 7] * wp + kDx[k & 7];

  std::vector<Border> borders(2);  // 0 unused, 1 = frame (a hole border by convention)
  borders[1].contour.hole = true;
  int nbd = 1;

  // OpenCV's icvFetchContour: follow the border from i0, mark it with nbd, return the visited pixels.
  const auto trace = [&](int i0, bool hole) {
    Contour c;
    c.hole = hole;
    int s = hole ? 0 : 4;
    const int s_first = s;
    int i1;
    do {
      s = (s - 1) & 7;
      i1 = i0 + delta[s];
    } while (f[i1] == 0 && s != s_first);
    if (s == s_first) {
      f[i0] = -nbd;
      c.points.push_back({i0 % wp - 1, i0 / wp - 1});
      return c;
    }
    int i3 = i0;
    for (;;) {
      const int s_end = s;
      int i4 = i3;
      while (s < 15) {
        i4 = i3 + delta[++s];
        if (f[i4] != 0) break;
      }
      s &= 7;
      if (static_cast<unsigned>(s - 1) < static_cast<unsigned>(s_end)) f[i3] = -nbd;
      else if (f[i3] == 1) f[i3] = nbd;
      c.points.push_back({i3 % wp - 1, i3 / wp - 1});
      if (i4 == i0 && i3 == i1) break;
      i3 = i4;
      s = (s + 4) & 7;
    }
    return c;
  };

  for (int y = 1; y <= h; ++y) {
    int lnbd = 1;
    for (int x = 1; x <= w; ++x) {
      const int p = y * wp + x;
      bool outer = f[p] == 1 && f[p - 1] == 0;
      bool hole = !outer && f[p] >= 1 && f[p + 1] == 0;
      if (outer || hole) {
        if (hole && f[p] > 1) lnbd = f[p];
        ++nbd;
        Border b;
        // Suzuki & Abe, table 1: same kind as the last border met -> its parent, else that border itself.
        const Border& last = borders[lnbd];
        b.parent = last.contour.hole == hole ? last.parent : lnbd;
        b.contour = trace(p, hole);
        borders.push_back(std::move(b));
        borders[borders.back().parent].children.push_back(nbd);
      }
      if (f[p] != 0 && f[p] != 1) lnbd = std::abs(f[p]);
    }
  }
  std::vector<Contour> out;
  std::function<void(int)> visit = [&](int id) {
    if (id != 1) out.push_back(borders[id].contour);
    const auto& kids = borders[id].children;
    for (auto it = kids.rbegin(); it != kids.rend(); ++it) visit(*it);
  };
  visit(1);
  return out;
}

double contour_area(const Contour& c) {
  double a = 0;
  const std::size_t n = c.points.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& p = c.points[(i + n - 1) % n];
    const auto& q = c.points[i];
    a += static_cast<double>(p.first) * q.second - static_cast<double>(p.second) * q.first;
  }
  return std::fabs(a * 0.5);
}

std::vector<Box> reference_boxes(const QuantizedMap& map, double threshold, bool multi_contour) {
  const int thr = threshold_level(threshold, map.max);
  std::vector<std::uint8_t> on(map.values.size());
  for (std::size_t i = 0; i < on.size(); ++i) on[i] = map.values[i] > thr;
  std::vector<Contour> contours = find_contours(on, map.height, map.width);
  if (contours.empty()) return {Box{}};
  if (!multi_contour) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < contours.size(); ++i)
      if (contour_area(contours[i]) > contour_area(contours[best])) best = i;
    contours = {contours[best]};
  }
  std::vector<Box> boxes;
  for (const Contour& c : contours) {
    int x0 = c.points[0].first, x1 = x0, y0 = c.points[0].second, y1 = y0;
    for (const auto& [x, y] : c.points) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
    boxes.push_back(Box{x0, y0, std::min(x1 + 1, map.width - 1), std::min(y1 + 1, map.height - 1)});
  }
  return boxes;
}

}  // namespace tedloc::eval::slow
