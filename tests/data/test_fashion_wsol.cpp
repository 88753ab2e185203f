// The FashionWSOL generator: byte-identical regeneration, valid metadata in the protocol's format,
// boxes that are exactly the pasted item, the procedural fallback, the IDX reader, the command.
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <fstream>
#include <map>
#include <sstream>

#include "data_test_util.hpp"
#include "tedloc/commands/commands.hpp"
#include "tedloc/data/fashion_wsol.hpp"
#include "tedloc/error.hpp"

namespace tedloc::data {
namespace {

using testing::file_bytes;
using testing::TempDir;
namespace fs = std::filesystem;

const std::string kFashionDir = "/usr/share/datasets/fashion-mnist";
bool fashion_installed() { return fs::exists(kFashionDir + "/train-images-idx3-ubyte.gz"); }

FashionWsolOptions small(const std::string& out, const std::string& fashion_dir) {
  FashionWsolOptions o;
  o.out_dir = out;
  o.seed = 3;
  o.canvas = 64;
  o.train = 40;
  o.val = 20;
  o.test = 30;
  o.fashion_dir = fashion_dir;
  o.write_masks = true;
  o.progress = false;
  return o;
}

std::vector<std::vector<std::string>> read_csv(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f) << path;
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(text.empty() || text.back() == '\n') << path;
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::istringstream in(line);
    for (std::string field; std::getline(in, field, ',');) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

// Every file under `root`, relative path -> bytes.
std::map<std::string, std::vector<std::uint8_t>> tree(const fs::path& root) {
  std::map<std::string, std::vector<std::uint8_t>> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = file_bytes(e.path().string());
  return files;
}

// Checks one generated dataset against the protocol's metadata format and the generator's promises.
void check_dataset(const FashionWsolOptions& o) {
  const fs::path meta = fs::path(o.out_dir) / "metadata" / "FashionWSOL";
  const std::array<std::pair<const char*, int>, 3> splits = {{{"train", o.train}, {"val", o.val}, {"test", o.test}}};
  for (const auto& [split, count] : splits) {
    SCOPED_TRACE(split);
    const auto ids = read_csv(meta / split / "image_ids.txt");
    const auto labels = read_csv(meta / split / "class_labels.txt");
    const auto sizes = read_csv(meta / split / "image_sizes.txt");
    const auto boxes = read_csv(meta / split / "localization.txt");  // train too: written, never trained on
    ASSERT_EQ(static_cast<int>(ids.size()), count);
    ASSERT_EQ(labels.size(), ids.size());
    ASSERT_EQ(sizes.size(), ids.size());
    ASSERT_EQ(boxes.size(), ids.size());
    std::array<int, 10> per_class{};
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string& id = ids[i].at(0);
      ASSERT_EQ(ids[i].size(), 1u);
      ASSERT_EQ(labels[i], (std::vector<std::string>{id, labels[i].at(1)}));
      const int label = std::stoi(labels[i][1]);
      ASSERT_GE(label, 0);
      ASSERT_LT(label, 10);
      ++per_class[label];
      ASSERT_EQ(sizes[i], (std::vector<std::string>{id, std::to_string(o.canvas), std::to_string(o.canvas)}));
      ASSERT_EQ(boxes[i].size(), 5u);
      ASSERT_EQ(boxes[i][0], id);
      const int x0 = std::stoi(boxes[i][1]), y0 = std::stoi(boxes[i][2]), x1 = std::stoi(boxes[i][3]),
                y1 = std::stoi(boxes[i][4]);
      ASSERT_TRUE(0 <= x0 && x0 < x1 && x1 <= o.canvas && 0 <= y0 && y0 < y1 && y1 <= o.canvas) << id;
      // Items are at least min_scale of the canvas before the faint edge is cut.
      EXPECT_GE(std::max(x1 - x0, y1 - y0), o.min_scale * o.canvas * 0.5) << id;
      const Image img = decode_image((fs::path(o.out_dir) / "images" / id).string());
      ASSERT_EQ(img.width, o.canvas);
      ASSERT_EQ(img.height, o.canvas);
      // The box is exactly the bounding box of the item's pixels (x1, y1 one past the last pixel).
      const Image mask = decode_image((fs::path(o.out_dir) / "masks" / id).string());
      int mx0 = o.canvas, my0 = o.canvas, mx1 = 0, my1 = 0;
      for (int y = 0; y < o.canvas; ++y)
        for (int x = 0; x < o.canvas; ++x)
          if (mask.at(x, y) > 0) {
            mx0 = std::min(mx0, x), my0 = std::min(my0, y), mx1 = std::max(mx1, x + 1), my1 = std::max(my1, y + 1);
          }
      ASSERT_EQ((std::array<int, 4>{x0, y0, x1, y1}), (std::array<int, 4>{mx0, my0, mx1, my1})) << id;
    }
    for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], count / 10) << "class " << c;  // balanced
  }
  std::ifstream classes(meta / "classes.txt");
  std::vector<std::string> names;
  for (std::string line; std::getline(classes, line);) names.push_back(line);
  EXPECT_EQ(names, (std::vector<std::string>(kFashionClassNames.begin(), kFashionClassNames.end())));
}

TEST(FashionWsol, SameSeedSameBytesValidMetadata) {
  if (!fashion_installed()) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  TempDir dir;
  const FashionWsolOptions a = small(dir / "a", kFashionDir);
  FashionWsolOptions b = small(dir / "b", kFashionDir);
  b.num_threads = 1;  // thread count must not change a byte
  EXPECT_EQ(generate_fashion_wsol(a).source, "fashion-mnist");
  generate_fashion_wsol(b);
  const auto ta = tree(a.out_dir), tb = tree(b.out_dir);
  ASSERT_EQ(ta.size(), 2 * 90u + 4 * 3 + 2);  // images, masks, 4 files per split, classes.txt, dataset.json
  EXPECT_TRUE(ta == tb);
  check_dataset(a);

  FashionWsolOptions c = small(dir / "c", kFashionDir);
  c.seed = 4;
  generate_fashion_wsol(c);
  EXPECT_NE(file_bytes(c.out_dir + "/metadata/FashionWSOL/test/localization.txt"),
            file_bytes(a.out_dir + "/metadata/FashionWSOL/test/localization.txt"));
}

TEST(FashionWsol, ProceduralFallbackWithoutThePackage) {
  TempDir dir;
  const FashionWsolOptions a = small(dir / "a", dir / "no_fashion_here");
  const FashionWsolOptions b = small(dir / "b", dir / "no_fashion_here");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(generate_fashion_wsol(a).source, "procedural");
  const std::string message = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(message.find("procedural fallback"), std::string::npos) << message;
  generate_fashion_wsol(b);
  EXPECT_TRUE(tree(a.out_dir) == tree(b.out_dir));
  check_dataset(a);
}

TEST(FashionWsol, ProceduralItemsDifferByClass) {
  for (int c = 0; c < 10; ++c)
    for (int d = c + 1; d < 10; ++d) EXPECT_NE(procedural_item(c, 1).pixels, procedural_item(d, 1).pixels);
  EXPECT_EQ(procedural_item(4, 9).pixels, procedural_item(4, 9).pixels);
}

void write_gz(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(Idx, ReadsGzipImagesAndLabelsAndRejectsBadFiles) {
  TempDir dir;
  std::vector<std::uint8_t> images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (int i = 0; i < 12; ++i) images.push_back(static_cast<std::uint8_t>(i * 10));
  write_gz(dir / "img.gz", images);
  const IdxImages read = read_idx_images(dir / "img.gz");
  EXPECT_EQ(read.count, 2);
  EXPECT_EQ(read.rows, 2);
  EXPECT_EQ(read.cols, 3);
  EXPECT_EQ(read.pixels[11], 110);
  write_gz(dir / "lab.gz", {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9});
  EXPECT_EQ(read_idx_labels(dir / "lab.gz"), (std::vector<std::uint8_t>{7, 0, 9}));

  images.pop_back();  // one byte short of the header's size
  write_gz(dir / "short.gz", images);
  EXPECT_THROW(
      {
        try {
          read_idx_images(dir / "short.gz");
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("short.gz"), std::string::npos);
          throw;
        }
      },
      InputError);
  EXPECT_THROW(read_idx_labels(dir / "img.gz"), InputError);  // wrong magic (3 dimensions)
  EXPECT_THROW(read_idx_images(dir / "absent.gz"), InputError);
}

// Found by fuzzing (tests/fuzz/corpus/idx/crash-negative-cols.idx3): dimensions that do not fit an int, or whose
// product wraps to the file's size, passed the header check.
TEST(Idx, DimensionsThatOverflowAreRefused) {
  TempDir dir;
  write_gz(dir / "neg.gz", {0, 0, 8, 3, 0, 0, 0x1f, 0x0f, 0, 0, 0, 0, 0xdb, 0xdb, 0xdb, 0xdb});  // 7951 x 0 x 3.7e9
  EXPECT_THROW(read_idx_images(dir / "neg.gz"), InputError);
  write_gz(dir / "wrap.gz", {0, 0, 8, 3, 0x40, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0x10});  // 2^30 x 2^30 x 16 = 2^64
  EXPECT_THROW(read_idx_images(dir / "wrap.gz"), InputError);
  write_gz(dir / "empty.gz", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3});  // 2 images of 0 x 3
  EXPECT_THROW(read_idx_images(dir / "empty.gz"), InputError);
}

TEST(DataCommand, HelpErrorsAndARun) {
  TempDir dir;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(data_command({"fashion-wsol", "--help"}), kExitOk);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("--canvas"), std::string::npos);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(data_command({"mnist-wsol"}), kExitUsage);
  EXPECT_EQ(data_command({"fashion-wsol"}), kExitUsage);  // --out missing
  EXPECT_EQ(data_command({"fashion-wsol", "--out", dir / "x", "--canvas", "8"}), kExitUsage);
  ::testing::internal::GetCapturedStderr();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(data_command({"fashion-wsol", "--out", dir / "d", "--train", "10", "--val", "10", "--test", "10",
                          "--canvas", "48", "--seed", "5"}),
            kExitOk);
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(read_csv(dir.path() / "d/metadata/FashionWSOL/val/localization.txt").size(), 10u);
}

}  // namespace
}  // namespace tedloc::data
