// Every box-evaluation number of golden/wsol/expected.json, from the fast sweep (and the boxes from the slow
// OpenCV-like reimplementation too, which must reproduce the reference's box order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "golden.hpp"
#include "slow_contours.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/box_eval.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/eval/npy.hpp"

namespace tedloc::eval {
namespace {

using nlohmann::json;
using testing::expected;
using testing::golden_dir;

Box box_of(const json& j) { return Box{j[0].get<int>(), j[1].get<int>(), j[2].get<int>(), j[3].get<int>()}; }

std::vector<Box> boxes_of(const json& j) {
  std::vector<Box> out;
  for (const auto& b : j) out.push_back(box_of(b));
  return out;
}

std::string str(const std::vector<Box>& boxes) {
  std::string s;
  for (const Box& b : boxes)
    s += "[" + std::to_string(b.x0) + "," + std::to_string(b.y0) + "," + std::to_string(b.x1) + "," + std::to_string(b.y1) + "]";
  return s;
}

std::vector<Box> sorted(std::vector<Box> v) {
  std::sort(v.begin(), v.end(), [](const Box& a, const Box& b) {
    return std::tie(a.x0, a.y0, a.x1, a.y1) < std::tie(b.x0, b.y0, b.x1, b.y1);
  });
  return v;
}

QuantizedMap load_map(const std::string& path) { return quantize_scoremap(read_npy(path), path); }

std::vector<double> doubles(const json& j) { return j.get<std::vector<double>>(); }

// Boxes per threshold and number_of_boxes of one golden record, for both modes.
void check_boxes(const QuantizedMap& map, const std::vector<double>& thresholds, const json& record,
                 const std::string& what) {
  ContourSweep sweep;
  for (const char* mode : {"single", "multi"}) {
    const bool multi = std::string(mode) == "multi";
    const auto fast = sweep.boxes(map, thresholds, multi);
    const MapCurve counts = sweep.best_iou(map, {Box{}}, thresholds, multi);
    for (std::size_t i = 0; i < thresholds.size(); ++i) {
      const std::vector<Box> want = boxes_of(record[mode]["boxes"][i]);
      const std::string where = what + " " + mode + " t=" + std::to_string(thresholds[i]);
      // The slow reimplementation must give the reference's order; the fast one the same set.
      EXPECT_EQ(str(slow::reference_boxes(map, thresholds[i], multi)), str(want)) << where;
      if (multi) EXPECT_EQ(str(sorted(fast[i])), str(sorted(want))) << where;
      else EXPECT_EQ(str(fast[i]), str(want)) << where;
      EXPECT_EQ(counts.num_boxes[i], record[mode]["number_of_boxes"][i].get<int>()) << where;
    }
  }
}

TEST(BoxGolden, CamThresholdsAreNumpyArange) {
  TEDLOC_NEED_SHARED("golden/wsol");
  for (const char* s : {"0.01", "0.001"}) {
    const auto want = doubles(expected()["cam_threshold_lists"][s]);
    const auto got = cam_thresholds(std::stod(s));
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << s << " " << i;
  }
}

// The reference's validity check (np.isnan, min < 0, max > 1) and astype(uint8) truncation, value by value.
TEST(BoxGolden, QuantizeChecksAndTruncates) {
  const double inf = std::numeric_limits<double>::infinity();
  const double denormal = std::numeric_limits<double>::denorm_min();
  const std::vector<double> good = {0.0, -0.0, denormal, 0.5, 0.999, 1.0 / 255.0, 254.9999 / 255.0, 1.0};
  const QuantizedMap q = quantize_scoremap(good.data(), 2, 4, "good.npy");
  const std::vector<std::uint8_t> want = {0, 0, 0, 127, 254, 1, 254, 255};  // uint8(v * 255), truncated
  EXPECT_EQ(q.values, want);
  EXPECT_EQ(q.max, 255);
  for (double bad : {std::nan(""), -std::nan(""), -denormal, -0.5, std::nextafter(1.0, 2.0), 2.0, inf, -inf}) {
    std::vector<double> values(37, 0.25);
    values[29] = bad;  // past a whole vector of good values, not at the start
    try {
      quantize_scoremap(values.data(), 1, 37, "bad.npy");
      ADD_FAILURE() << bad << " accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.npy: score map value"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("at index 29"), std::string::npos) << e.what();
    }
  }
}

TEST(BoxGolden, ResizeBbox) {
  TEDLOC_NEED_SHARED("golden/wsol");
  for (const auto& c : expected()["box"]["unit"]["resize_bbox"]) {
    const ImageSize size{c["image_size"][0].get<int>(), c["image_size"][1].get<int>()};
    EXPECT_EQ(resize_box(box_of(c["box"]), size, c["resize_size"][0].get<int>()), box_of(c["result"])) << c.dump();
  }
}

TEST(BoxGolden, CalculateMultipleIou) {
  TEDLOC_NEED_SHARED("golden/wsol");
  for (const auto& c : expected()["box"]["unit"]["calculate_multiple_iou"]) {
    const auto a = boxes_of(c["box_a"]), b = boxes_of(c["box_b"]);
    for (std::size_t i = 0; i < a.size(); ++i)
      for (std::size_t j = 0; j < b.size(); ++j) EXPECT_EQ(box_iou(a[i], b[j]), c["iou"][i][j].get<double>());
  }
}

TEST(BoxGolden, TinyCases) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const auto tenths = doubles(expected()["box"]["boxes_at_thresholds"]["thresholds"]);
  const auto hundredths = cam_thresholds(0.01);
  for (const auto& c : expected()["box"]["boxes_at_thresholds"]["tiny_cases"]) {
    const std::string name = c["name"];
    const NpyArray a = read_npy(golden_dir() + "/" + c["file"].get<std::string>());
    EXPECT_EQ(a.dtype.substr(1), c["dtype"].get<std::string>() == "float32" ? "f4" : "f8") << name;
    const QuantizedMap map = quantize_scoremap(a, name);
    EXPECT_EQ(map.height, c["shape_HxW"][0].get<int>());
    check_boxes(map, tenths, c, name);
    check_boxes(map, hundredths, c["hundredths"], name + " hundredths");
  }
}

TEST(BoxGolden, ChosenImages) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const auto tenths = doubles(expected()["box"]["boxes_at_thresholds"]["thresholds"]);
  for (const auto& c : expected()["box"]["boxes_at_thresholds"]["images"])
    check_boxes(load_map(golden_dir() + "/" + c["scoremap"].get<std::string>()), tenths, c, c["image_id"]);
}

struct SplitRun {
  SplitMetadata split;
  std::vector<QuantizedMap> maps;
};

SplitRun load_golden_split(const std::string& name) {
  SplitRun run{load_split(golden_dir() + "/metadata/CUB/" + name), {}};
  for (const auto& id : run.split.image_ids) run.maps.push_back(load_map(golden_dir() + "/scoremaps/" + id + ".npy"));
  return run;
}

class BoxSplit : public ::testing::TestWithParam<std::string> {};

TEST_P(BoxSplit, PerImageCurves) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const SplitRun run = load_golden_split(GetParam());
  const json& per_image = expected()["box"]["splits"][GetParam()]["per_image"];
  ASSERT_EQ(per_image.size(), run.split.image_ids.size());
  const auto thresholds = cam_thresholds(0.01);
  ContourSweep sweep;
  for (std::size_t i = 0; i < per_image.size(); ++i) {
    const json& rec = per_image[i];
    ASSERT_EQ(rec["image_id"], run.split.image_ids[i]);
    const auto gt = resized_boxes(run.split, i);
    EXPECT_EQ(str(gt), str(boxes_of(rec["gt_boxes_224"])));
    EXPECT_EQ(run.maps[i].max, rec["map_uint8_max"].get<int>());
    for (const char* mode : {"single", "multi"}) {
      const json& want = rec[std::string("interval_0.01_") + mode];
      const MapCurve c = sweep.best_iou(run.maps[i], gt, thresholds, std::string(mode) == "multi");
      const auto best = std::max_element(c.best_iou.begin(), c.best_iou.end());
      const std::string where = rec["image_id"].get<std::string>() + " " + mode;
      EXPECT_EQ(*best, want["max_iou"].get<double>()) << where;
      EXPECT_EQ(best - c.best_iou.begin(), want["first_index_of_max_iou"].get<int>()) << where;
      int total = 0;
      for (int n : c.num_boxes) total += n;
      EXPECT_EQ(total, want["total_boxes"].get<int>()) << where;
      for (const auto& [iou, bits] : want["correct"].items()) {
        std::string got;
        for (double v : c.best_iou) got += v >= std::stoi(iou) / 100.0 ? '1' : '0';
        EXPECT_EQ(got, bits.get<std::string>()) << where << " iou " << iou;
      }
    }
  }
}

TEST_P(BoxSplit, MaxBoxAccForEverySetting) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const SplitRun run = load_golden_split(GetParam());
  ContourSweep sweep;
  for (const json& s : expected()["box"]["splits"][GetParam()]["settings"]) {
    const double interval = s["cam_curve_interval"];
    const bool multi = s["multi_contour_eval"];
    BoxCurves curves = make_box_curves(interval, s["iou_threshold_list"].get<std::vector<int>>());
    for (std::size_t i = 0; i < run.maps.size(); ++i)
      accumulate(curves, sweep.best_iou(run.maps[i], resized_boxes(run.split, i), curves.cam_thresholds, multi));
    const BoxSummary sum = summarize(curves);
    const std::string where = GetParam() + " " + s["cam_curve_interval"].dump() + (multi ? " multi" : " single");
    for (std::size_t d = 0; d < sum.per_iou.size(); ++d) {
      const std::string iou = std::to_string(sum.per_iou[d].iou);
      EXPECT_EQ(curves.num_correct[d], s["num_correct"][iou].get<std::vector<std::int64_t>>()) << where << " " << iou;
      EXPECT_EQ(sum.per_iou[d].max_box_acc, s["max_box_acc"][d].get<double>()) << where;
      EXPECT_EQ(sum.per_iou[d].best_index, s["best_cam_threshold"][d]["index"].get<std::size_t>()) << where;
      EXPECT_EQ(sum.per_iou[d].best_threshold, s["best_cam_threshold"][d]["value"].get<double>()) << where;
    }
    EXPECT_EQ(sum.mean, s["max_box_acc_mean"].get<double>()) << where;
    EXPECT_EQ(localization_at(curves, operating_index(curves)).box_acc[1], s["max_box_acc_iou50"].get<double>());
    if (s.contains("accuracy_curve_iou50")) {
      for (std::size_t i = 0; i < curves.cam_thresholds.size(); ++i)
        EXPECT_EQ(percent(curves.num_correct[1][i], curves.num_images), s["accuracy_curve_iou50"][i].get<double>());
    }
    if (s.contains("evaluate_wsol")) {
      for (const auto& [key, value] : s["evaluate_wsol"].items())
        EXPECT_EQ(key == "True" ? sum.mean : sum.per_iou[1].max_box_acc, value.get<double>()) << where << " " << key;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Golden, BoxSplit, ::testing::Values("test", "val"));

}  // namespace
}  // namespace tedloc::eval
