// PxAP against expected.json, and `tedloc eval` (library entry and command) on the golden splits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "golden.hpp"
#include "tedloc/error.hpp"
#include "tedloc/cli/eval_command.hpp"
#include "tedloc/eval/metadata.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/eval/pxap.hpp"

namespace tedloc::eval {
namespace {

using testing::expected;
using testing::golden_dir;

TEST(Pxap, ReferenceGroundTruthMasks) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const std::string root = golden_dir() + "/pxap";
  const SplitMetadata split = load_split(root + "/metadata/OpenImages/test");
  ASSERT_EQ(split.kind, LocalizationKind::kMasks);
  for (std::size_t i = 0; i < split.image_ids.size(); ++i) {
    const auto labels = ground_truth_mask(root + "/dataset/OpenImages", split.masks[i]);
    const std::string stem = split.image_ids[i].substr(0, split.image_ids[i].size() - 4);  // drop ".jpg"
    const GrayImage want = read_png_gray(root + "/gt_masks_224/" + stem + ".png");
    ASSERT_EQ(want.pixels.size(), labels.size());
    EXPECT_TRUE(want.pixels == labels) << split.image_ids[i];
  }
}

TEST(Pxap, HistogramsAndAreaMatchTheReference) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const std::string root = golden_dir() + "/pxap";
  for (const auto& [interval, want] : expected()["pxap"]["results"].items()) {
    EvalOptions o;
    o.metadata = root + "/metadata/OpenImages/test";
    o.scoremaps = root + "/scoremaps";
    o.mask_root = root + "/dataset/OpenImages";
    o.interval = std::stod(interval);
    o.threads = 2;
    const auto r = evaluate_scoremaps(o);
    EXPECT_NEAR(r["pxap"].get<double>(), want["pxap"].get<double>(), 1e-9) << interval;
    EXPECT_EQ(r["pxap"].get<double>(), want["pxap"].get<double>()) << "not bit-exact at " << interval;
  }
  // The histograms themselves, at 0.01.
  const auto& want = expected()["pxap"]["results"]["0.01"];
  const SplitMetadata split = load_split(root + "/metadata/OpenImages/test");
  PxapHistograms h = make_pxap_histograms(0.01);
  EXPECT_EQ(h.edges, want["bin_edges"].get<std::vector<double>>());
  for (std::size_t i = 0; i < split.image_ids.size(); ++i)
    accumulate(h, read_npy(root + "/scoremaps/" + split.image_ids[i] + ".npy").data,
               ground_truth_mask(root + "/dataset/OpenImages", split.masks[i]));
  EXPECT_EQ(h.fg, want["gt_true_score_hist"].get<std::vector<std::int64_t>>());
  EXPECT_EQ(h.bg, want["gt_false_score_hist"].get<std::vector<std::int64_t>>());
}

TEST(Pxap, CorruptPngIsAnInputError) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const auto path = std::filesystem::temp_directory_path() / "tedloc_bad.png";
  std::ifstream in(golden_dir() + "/pxap/gt_masks_224/test/0a1b2c/02b2c57b650f9de1.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THROW(read_png_gray(path.string()), InputError);
  std::filesystem::remove(path);
}

TEST(EvalCommand, JsonMatchesTheGoldenSplits) {
  TEDLOC_NEED_SHARED("golden/wsol");
  for (const char* split : {"test", "val"})
    for (const auto& s : expected()["box"]["splits"][split]["settings"]) {
      EvalOptions o;
      o.metadata = golden_dir() + "/metadata/CUB/" + split;
      o.scoremaps = golden_dir() + "/scoremaps";
      o.interval = s["cam_curve_interval"];
      o.multi_contour = s["multi_contour_eval"];
      o.threads = 2;
      const auto r = evaluate_scoremaps(o);
      EXPECT_EQ(r["maxboxacc"], s["max_box_acc"]);
      EXPECT_EQ(r["maxboxacc_v2"].get<double>(), s["max_box_acc_mean"].get<double>());
      for (std::size_t d = 0; d < 3; ++d)
        EXPECT_EQ(r["best_threshold"][d].get<double>(), s["best_cam_threshold"][d]["value"].get<double>());
    }
}

TEST(EvalCommand, ExitCodes) {
  TEDLOC_NEED_SHARED("golden/wsol");
  const std::string meta = golden_dir() + "/metadata/CUB/test", maps = golden_dir() + "/scoremaps";
  EXPECT_EQ(eval_command({"--help"}), kExitOk);
  EXPECT_EQ(eval_command({"--metadata", meta, "--scoremaps", maps, "--interval", "0.01", "--json"}), kExitOk);
  EXPECT_EQ(eval_command({"--metadata", meta}), kExitUsage);
  EXPECT_EQ(eval_command({"--metadata", meta, "--scoremaps", maps, "--iou", "30,x"}), kExitUsage);
  EXPECT_EQ(eval_command({"--metadata", meta, "--scoremaps", golden_dir() + "/cases"}), kExitBadInput);
  EXPECT_EQ(eval_command({"--metadata", golden_dir(), "--scoremaps", maps}), kExitBadInput);
}

}  // namespace
}  // namespace tedloc::eval
