// Figures: real PNG files of the expected size; the GT outline is green and the predicted one red; the
// anchors' similarity is visibly positive off the diagonal before orthogonalisation and neutral after QR.
#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <fmt/format.h>

#include "fake_store.hpp"
#include "tedloc/data/image.hpp"
#include "tedloc/error.hpp"
#include "tedloc/eval/npy.hpp"
#include "tedloc/reports/figures.hpp"
#include "tedloc/reports/raster.hpp"
#include "test_support.hpp"

namespace tedloc::reports {
namespace {

using tedloc::testing::TempDir;
namespace fs = std::filesystem;

const Rgb kGreen{0, 200, 0}, kRed{230, 0, 0};

bool is_png(const std::string& path) {
  return tedloc::testing::read_file(path).rfind("\x89PNG\r\n\x1a\n", 0) == 0;
}

// A 100 x 80 grey image, a 7 x 7 map peaking in the middle, GT box (10, 10)-(60, 50), predicted (30, 30)-(90, 70).
std::string write_overlay(const TempDir& dir, const std::string& name = "overlay.json") {
  data::Image image(100, 80, 3, 128);
  data::write_png(dir / "img.png", image);
  std::vector<float> map(49);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) map[y * 7 + x] = 1.0f - 0.15f * static_cast<float>(std::abs(x - 3) + std::abs(y - 3));
  eval::write_npy_f32(dir / "map.npy", map.data(), 7, 7);
  tedloc::testing::write_file(dir / name, R"({"image": "img.png", "map": ")" + (dir / "map.npy") +
                                                        R"(", "gt_boxes": [[10, 10, 60, 50]], "pred_box": [30, 30, 90, 70],
                                                        "label": "Trouser"})");
  return dir / name;
}

TEST(Figures, OverlayTileDrawsTheBoxes) {
  TempDir dir;
  const data::Image tile = overlay_tile(write_overlay(dir), 160);
  ASSERT_EQ(tile.width, 160);
  ASSERT_EQ(tile.height, 172);
  // Scale 1.6 x 2: GT outline at x = 16..96, y = 20..100; predicted at x = 48..144, y = 60..140.
  EXPECT_EQ(pixel(tile, 16, 60), kGreen);
  EXPECT_EQ(pixel(tile, 17, 60), kGreen);  // 2 pixels thick
  EXPECT_EQ(pixel(tile, 50, 20), kGreen);
  EXPECT_EQ(pixel(tile, 48, 120), kRed);
  EXPECT_EQ(pixel(tile, 48, 100), kGreen);  // where they cross, GT is drawn last
  // The map's peak (centre) is tinted towards the top of the heat scale (red), the corner towards blue.
  const Rgb centre = pixel(tile, 80, 80), corner = pixel(tile, 2, 2);
  EXPECT_GT(centre.r, centre.b);
  EXPECT_GT(corner.b, corner.r);
}

TEST(Figures, AnchorSimilarity) {
  const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress"};
  const data::Image image = anchor_similarity_figure(names);
  // Layout (figures.cpp): cell = 240 / K = 60, panels 240 wide, 60 apart, the first at x = 40, y = 60.
  const auto cell_centre = [&](int panel, int i, int j) { return pixel(image, 40 + panel * 300 + j * 60 + 30, 60 + i * 60 + 30); };
  for (int panel = 0; panel < 3; ++panel) {
    const Rgb diagonal = cell_centre(panel, 1, 1);
    EXPECT_GT(diagonal.r, 150);
    EXPECT_LT(diagonal.g, 60);  // cos = 1: full red
  }
  const Rgb before = cell_centre(0, 0, 1), after_qr = cell_centre(1, 0, 1), after_lowdin = cell_centre(2, 0, 1);
  EXPECT_GT(before.r, before.b + 20) << "prompts share n-grams: a clearly positive cosine";
  for (const Rgb& c : {after_qr, after_lowdin}) {
    EXPECT_NEAR(c.r, 247, 3);
    EXPECT_NEAR(c.b, 247, 3);
  }
}

TEST(Figures, WriteFiguresFromTheStore) {
  TempDir dir;
  Store store(dir / "store.db");
  const auto fake = tedloc::testing::make_fake_table2(store);
  const std::int64_t run = fake.run_of.at("kd_pcl/2");
  for (int epoch = 0; epoch < 5; ++epoch) {
    store.log_metric(run, "train", "loss", 2.0 / (epoch + 1), epoch);
    store.log_metric(run, "train", "loss_kd", 1.5 / (epoch + 1), epoch);
    store.log_metric(run, "val", "maxboxacc_50", 40.0 + 10 * epoch - (epoch == 4 ? 25 : 0), epoch);
    store.log_metric(run, "val", "cl_top1", 30.0 + 12 * epoch, epoch);
  }
  store.log_metric(run, "train", "loss_icl", std::numeric_limits<double>::infinity(), 5);  // diverged: not drawn
  store.add_artifact(run, "overlay", write_overlay(dir));
  store.add_artifact(run, "overlay", write_overlay(dir, "overlay2.json"));

  FigureOptions options;
  options.out_dir = dir / "figures";
  options.experiments = {"table2_loss_ablation"};
  const auto paths = write_figures(store, options);
  const std::string curves = options.out_dir + fmt::format("/curves_table2_loss_ablation_run{}.png", run);
  const std::string overlays = options.out_dir + fmt::format("/overlays_table2_loss_ablation_run{}.png", run);
  EXPECT_EQ(paths, (std::vector<std::string>{options.out_dir + "/anchors_cosine.png", curves, overlays}));
  for (const auto& path : paths) EXPECT_TRUE(is_png(path)) << path;

  const data::Image c = data::decode_image(curves);
  EXPECT_EQ(c.width, 780);
  EXPECT_EQ(c.height, 330);
  const data::Image grid = data::decode_image(overlays);
  EXPECT_EQ(grid.height, 22 + 172 + 6);  // title bar, one row of tiles
  EXPECT_GE(grid.width, 6 + 2 * (160 + 6));
  EXPECT_EQ(pixel(grid, 6 + 16, 22 + 60), kGreen);  // the first tile's GT outline
  EXPECT_EQ(pixel(grid, 6 + 166 + 16, 22 + 60), kGreen);  // the second's
  const data::Image anchors = data::decode_image(paths[0]);
  EXPECT_GT(anchors.width, 900);  // three 240-pixel panels for the 10 FashionWSOL classes

  EXPECT_THROW(
      {
        options.experiments = {"nope"};
        write_figures(store, options);
      },
      InputError);
}

TEST(Figures, CommandLine) {
  TempDir dir;
  {
    Store store(dir / "store.db");
    tedloc::testing::make_fake_table2(store);
  }
  const std::string command = tedloc::testing::tedloc_exe() + " report figures --db " + (dir / "store.db") +
                              " --out " + (dir / "figs") + " --classes cat,dog,bird > " + (dir / "out.txt");
  ASSERT_EQ(std::system(command.c_str()), 0);
  EXPECT_TRUE(is_png(dir / "figs/anchors_cosine.png"));
  EXPECT_EQ(tedloc::testing::read_file(dir / "out.txt"), (dir / "figs/anchors_cosine.png") + "\n");
}

}  // namespace
}  // namespace tedloc::reports
