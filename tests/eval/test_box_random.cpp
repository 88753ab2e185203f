// The fast sweep against (1) the slow per-threshold Suzuki reimplementation on many random maps, and (2) OpenCV
// itself through tests/eval/cv2_boxes.py when Debian's python3-opencv is installed (skipped otherwise).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <fstream>
#include <unistd.h>

#include "golden.hpp"
#include "slow_contours.hpp"
#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/npy.hpp"

namespace tedloc::eval {
namespace {

std::string str(std::vector<Box> boxes, bool sort) {
  if (sort)
    std::sort(boxes.begin(), boxes.end(), [](const Box& a, const Box& b) {
      return std::tie(a.x0, a.y0, a.x1, a.y1) < std::tie(b.x0, b.y0, b.x1, b.y1);
    });
  std::string s;
  for (const Box& b : boxes)
    s += "[" + std::to_string(b.x0) + "," + std::to_string(b.y0) + "," + std::to_string(b.x1) + "," + std::to_string(b.y1) + "]";
  return s;
}

// Random maps that stress the contour rules: few grey levels (ties, holes, nesting), binary noise, blobs.
std::vector<double> random_map(std::mt19937& rng, int h, int w) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<double> m(static_cast<std::size_t>(h) * w);
  const int kind = static_cast<int>(rng() % 3);
  const double density = unit(rng);
  const double cy = unit(rng) * h, cx = unit(rng) * w, s = 1 + unit(rng) * std::max(h, w) / 3.0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double& v = m[static_cast<std::size_t>(y) * w + x];
      if (kind == 0) v = (rng() % 4) / 3.0;
      else if (kind == 1) v = unit(rng) < density ? 1.0 : 0.0;
      else v = 0.8 * std::exp(-((y - cy) * (y - cy) + (x - cx) * (x - cx)) / (2 * s * s)) + 0.2 * unit(rng);
    }
  return m;
}

TEST(BoxRandom, SweepEqualsPerThresholdSuzuki) {
  std::mt19937 rng(20200601);
  ContourSweep sweep;
  const auto thresholds = cam_thresholds(0.01);
  for (int k = 0; k < 600; ++k) {
    const int h = 1 + static_cast<int>(rng() % 32), w = 1 + static_cast<int>(rng() % 32);
    const auto values = random_map(rng, h, w);
    const QuantizedMap map = quantize_scoremap(values.data(), h, w, "random");
    for (bool multi : {false, true}) {
      const auto fast = sweep.boxes(map, thresholds, multi);
      for (std::size_t i = 0; i < thresholds.size(); ++i)
        ASSERT_EQ(str(fast[i], multi), str(slow::reference_boxes(map, thresholds[i], multi), multi))
            << "map " << k << " (" << h << "x" << w << ") t=" << thresholds[i] << (multi ? " multi" : " single");
    }
  }
}

TEST(BoxRandom, MatchesOpenCv) {
  if (std::system("/usr/bin/python3 -c 'import cv2, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-opencv not installed";
  const auto dir = std::filesystem::temp_directory_path() / ("tedloc_cv2_" + std::to_string(::getpid()));
  const std::string cmd = std::string("/usr/bin/python3 ") + TEDLOC_SOURCE_DIR + "/tests/eval/cv2_boxes.py " +
                          dir.string() + " 250 7";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dir / "boxes.json");
  const auto j = nlohmann::json::parse(in);
  const auto thresholds = j["thresholds"].get<std::vector<double>>();
  ContourSweep sweep;
  for (const auto& rec : j["maps"]) {
    const std::string file = rec["file"];
    const QuantizedMap map = quantize_scoremap(read_npy(file), file);
    for (bool multi : {false, true}) {
      const auto fast = sweep.boxes(map, thresholds, multi);
      for (std::size_t i = 0; i < thresholds.size(); ++i) {
        std::vector<Box> want;
        for (const auto& b : rec[multi ? "multi" : "single"][i]) want.push_back({b[0], b[1], b[2], b[3]});
        ASSERT_EQ(str(fast[i], multi), str(want, multi)) << file << " t=" << thresholds[i] << (multi ? " multi" : " single");
        // The slow reimplementation must also give OpenCV's order.
        ASSERT_EQ(str(slow::reference_boxes(map, thresholds[i], multi), false), str(want, false)) << file;
      }
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tedloc::eval
