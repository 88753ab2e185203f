// The protocol's transforms and the threaded loader, on real image files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <signal.h>

#include <set>

#include "data_test_util.hpp"
#include "tedloc/data/loader.hpp"
#include "tedloc/data/random.hpp"
#include "tedloc/data/transforms.hpp"
#include "tedloc/error.hpp"
#include "tedloc/stop.hpp"

namespace tedloc::data {
namespace {

using testing::pattern;
using testing::TempDir;

TEST(Resize, DownscaleMatchesPilWeightsComputedByHand) {
  // 4 -> 2 pixels: scale 2, support 2. Output 0 is centred at 1.0 and covers inputs 0..2 with triangle
  // weights 0.75, 0.75, 0.25 (sum 1.75): (0 * .75 + 100 * .75 + 200 * .25) / 1.75 = 71.43 -> 71.
  // Output 1 centred at 3.0 covers inputs 1..3 with 0.25, 0.75, 0.75: (25 + 150 + 30) / 1.75 = 117.1 -> 117.
  Image row(4, 1, 1);
  row.pixels = {0, 100, 200, 40};
  const Image out = resize_bilinear(row, 2, 1);
  EXPECT_EQ(out.pixels, (std::vector<std::uint8_t>{71, 117}));
}

TEST(Resize, UpscaleInterpolatesLinearly) {
  // 2 -> 4: scale 0.5, support 1. Output 1 is centred at 0.75: weights for inputs 0, 1 are 0.75, 0.25.
  Image row(2, 1, 1);
  row.pixels = {0, 200};
  EXPECT_EQ(resize_bilinear(row, 4, 1).pixels, (std::vector<std::uint8_t>{0, 50, 150, 200}));
}

TEST(Resize, ConstantStaysConstantAndShapesFollow) {
  Image img(97, 53, 3, 77);
  const Image out = resize_bilinear(img, 256, 256);
  EXPECT_EQ(out.width, 256);
  EXPECT_EQ(out.height, 256);
  for (auto p : out.pixels) ASSERT_EQ(p, 77);
  EXPECT_EQ(resize_bilinear(img, 97, 53).pixels, img.pixels);
}

TEST(Transforms, FlipAndCrop) {
  const Image img = pattern(10, 6);
  Image f = img;
  flip_horizontal(f);
  for (int c = 0; c < 3; ++c) EXPECT_EQ(f.at(0, 2, c), img.at(9, 2, c));
  flip_horizontal(f);
  EXPECT_EQ(f.pixels, img.pixels);
  const Image c = crop(img, 3, 2, 4, 3);
  EXPECT_EQ(c.at(0, 0, 1), img.at(3, 2, 1));
  EXPECT_EQ(c.at(3, 2, 0), img.at(6, 4, 0));
  EXPECT_THROW(crop(img, 8, 0, 4, 3), std::out_of_range);
}

TEST(Transforms, AugmentationIsDeterministicPerSeedAndCoversItsRange) {
  TransformOptions o;  // 256 -> 224: offsets in 0..32
  std::set<int> xs, ys;
  int flips = 0;
  for (std::int64_t i = 0; i < 3000; ++i) {
    const std::uint64_t s = sample_seed(11, 2, i);
    const AugmentationKey k = sample_augmentation(o, s);
    ASSERT_EQ(k, sample_augmentation(o, s));
    ASSERT_GE(k.crop_x, 0);
    ASSERT_LE(k.crop_x, 32);
    ASSERT_LE(k.crop_y, 32);
    xs.insert(k.crop_x);
    ys.insert(k.crop_y);
    flips += k.flip;
  }
  EXPECT_EQ(xs.size(), 33u);
  EXPECT_EQ(ys.size(), 33u);
  EXPECT_GT(flips, 1300);
  EXPECT_LT(flips, 1700);
  EXPECT_NE(sample_seed(11, 2, 5), sample_seed(11, 3, 5));
  EXPECT_NE(sample_seed(11, 2, 5), sample_seed(12, 2, 5));

  o.train = false;
  const AugmentationKey eval = sample_augmentation(o, 123);
  EXPECT_EQ(eval.str(), "eval:r224");
  o.train = true;
  o.random_crop = o.random_flip = false;
  const AugmentationKey centre = sample_augmentation(o, 5);
  EXPECT_EQ(centre.str(), "train:r256:c224:x16:y16:f0");
}

TEST(Transforms, TrainCropAndFlipAreWhatTheKeySays) {
  const Image img = pattern(50, 40);
  AugmentationKey k;
  k.train = true;
  k.resize = 40;
  k.crop = 24;
  k.crop_x = 7;
  k.crop_y = 3;
  k.flip = true;
  const Image out = apply_transform(img, k);
  ASSERT_EQ(out.width, 24);
  ASSERT_EQ(out.height, 24);
  Image expected = crop(resize_bilinear(img, 40, 40), 7, 3, 24, 24);
  flip_horizontal(expected);
  EXPECT_EQ(out.pixels, expected.pixels);
}

TEST(Transforms, NormalisationIsToTensorThenNormalize) {
  Image img(2, 1, 3);
  img.pixels = {255, 0, 128, 0, 255, 64};
  std::vector<float> out(6);
  to_normalised_chw(img, kImageNetMean, kImageNetStd, out.data());
  EXPECT_FLOAT_EQ(out[0], (1.f - 0.485f) / 0.229f);         // R of pixel 0
  EXPECT_FLOAT_EQ(out[1], (0.f - 0.485f) / 0.229f);         // R of pixel 1
  EXPECT_FLOAT_EQ(out[2], (0.f - 0.456f) / 0.224f);         // G plane
  EXPECT_FLOAT_EQ(out[5], (64.f / 255.f - 0.406f) / 0.225f);  // B of pixel 1
}

// A folder of N small distinct PNG/JPEG images and their records (label = index mod 3).
std::vector<ImageRecord> write_images(const TempDir& dir, int n) {
  std::vector<ImageRecord> records;
  for (int i = 0; i < n; ++i) {
    const std::string id = "img_" + std::to_string(i) + (i % 2 ? ".jpg" : ".png");
    const Image img = pattern(40 + i, 30 + (i * 7) % 20, i);
    if (i % 2)
      write_jpeg(dir / id, img, 90);
    else
      write_png(dir / id, img);
    records.push_back({id, i % 3});
  }
  return records;
}

LoaderOptions small_options(int threads) {
  LoaderOptions o;
  o.transform.resize_size = 40;
  o.transform.crop_size = 32;
  o.batch_size = 5;
  o.seed = 7;
  o.num_threads = threads;
  o.prefetch_batches = 2;
  return o;
}

std::vector<Batch> whole_epoch(ImageLoader& loader, std::int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (auto b = loader.next()) batches.push_back(std::move(*b));
  return batches;
}

TEST(Loader, SameBatchesWithZeroOneAndTwoThreads) {
  TempDir dir;
  const auto records = write_images(dir, 23);
  ImageLoader l0(records, dir.path().string(), small_options(0));
  ImageLoader l1(records, dir.path().string(), small_options(1));
  ImageLoader l2(records, dir.path().string(), small_options(2));
  for (std::int64_t epoch : {0, 1}) {
    const auto b0 = whole_epoch(l0, epoch), b1 = whole_epoch(l1, epoch), b2 = whole_epoch(l2, epoch);
    ASSERT_EQ(b0.size(), 5u);  // 23 images, batches of 5, last one of 3
    ASSERT_EQ(b1.size(), b0.size());
    ASSERT_EQ(b2.size(), b0.size());
    std::set<std::int64_t> seen;
    for (size_t i = 0; i < b0.size(); ++i) {
      EXPECT_EQ(b0[i].images.sizes(), (std::vector<std::int64_t>{i == 4 ? 3 : 5, 3, 32, 32}));
      EXPECT_EQ(b0[i].labels.dtype(), torch::kInt64);
      EXPECT_TRUE(torch::equal(b0[i].images, b1[i].images));
      EXPECT_TRUE(torch::equal(b0[i].images, b2[i].images));
      EXPECT_EQ(b0[i].indices, b2[i].indices);
      EXPECT_EQ(b0[i].keys, b2[i].keys);
      for (size_t r = 0; r < b0[i].indices.size(); ++r) {
        seen.insert(b0[i].indices[r]);
        EXPECT_EQ(b0[i].labels[r].item<std::int64_t>(), records[b0[i].indices[r]].label);
      }
    }
    EXPECT_EQ(seen.size(), 23u);  // each image once per epoch
  }
  // A new epoch reshuffles.
  EXPECT_NE(l2.epoch_order(0), l2.epoch_order(1));
}

TEST(Loader, RowsAreTheTransformOfTheDecodedImage) {
  TempDir dir;
  const auto records = write_images(dir, 4);
  LoaderOptions o = small_options(2);
  o.shuffle = false;
  ImageLoader loader(records, dir.path().string(), o);
  const Batch b = *loader.next();
  ASSERT_EQ(b.indices, (std::vector<std::int64_t>{0, 1, 2, 3}));
  for (int r = 0; r < 4; ++r) {
    const Image img = apply_transform(decode_image(dir / records[r].id), b.keys[r]);
    std::vector<float> expected(3 * 32 * 32);
    to_normalised_chw(img, o.transform.mean, o.transform.std, expected.data());
    const torch::Tensor row = b.images[r].contiguous();
    EXPECT_TRUE(std::equal(expected.begin(), expected.end(), row.data_ptr<float>()));
    EXPECT_EQ(b.keys[r], sample_augmentation(o.transform, sample_seed(o.seed, 0, r)));
  }
}

TEST(Loader, UnreadableImageThrowsNamingTheFile) {
  TempDir dir;
  auto records = write_images(dir, 8);
  records[5].id = "missing.jpg";
  ImageLoader loader(records, dir.path().string(), small_options(2));
  try {
    while (loader.next()) {
    }
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.jpg"), std::string::npos) << e.what();
  }
}

TEST(Loader, SkipModeRecordsUnreadableImages) {
  TempDir dir;
  auto records = write_images(dir, 12);
  records[3].id = "missing.png";
  testing::write_bytes(dir / "broken.jpg", {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10});
  records[8].id = "broken.jpg";
  LoaderOptions o = small_options(2);
  o.skip_unreadable = true;
  ImageLoader loader(records, dir.path().string(), o);
  std::int64_t rows = 0;
  for (const Batch& b : whole_epoch(loader, 0)) {
    rows += b.images.size(0);
    EXPECT_EQ(b.labels.size(0), b.images.size(0));
    for (auto i : b.indices) EXPECT_TRUE(i != 3 && i != 8);
  }
  EXPECT_EQ(rows, 10);
  whole_epoch(loader, 1);  // skipped again, recorded once
  const auto skipped = loader.skipped();
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0].index, 3);
  EXPECT_NE(skipped[0].reason.find("missing.png"), std::string::npos);
  EXPECT_EQ(skipped[1].id, "broken.jpg");
  EXPECT_NE(skipped[1].reason.find("broken.jpg"), std::string::npos);
}

TEST(Loader, RestartingAnEpochMidwayIsClean) {
  TempDir dir;
  const auto records = write_images(dir, 20);
  LoaderOptions o = small_options(2);
  o.drop_last = true;
  o.batch_size = 6;
  ImageLoader loader(records, dir.path().string(), o);
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next());
  EXPECT_EQ(whole_epoch(loader, 0).size(), 3u);  // 20 / 6 = 3 full batches, the rest dropped
}

// Every long phase of a run (CAMs, token cache, training, evaluation) iterates over a loader: a SIGINT
// mid-epoch makes the next batch an Interrupted, with workers decoding ahead.
TEST(Loader, ASignalMidEpochMakesTheNextBatchInterrupted) {
  TempDir dir;
  const auto records = write_images(dir, 20);
  ImageLoader loader(records, dir.path().string(), small_options(2));
  install_stop_handlers();
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next());
  ::raise(SIGINT);  // the handler only sets the flag: the process lives on
  EXPECT_TRUE(stop_requested());
  EXPECT_THROW(loader.next(), Interrupted);
  install_stop_handlers();  // clears the request
  restore_default_signals();
  EXPECT_EQ(whole_epoch(loader, 1).size(), 4u);
}

TEST(Loader, RejectsBadOptions) {
  LoaderOptions o;
  o.transform.crop_size = 300;
  EXPECT_THROW(ImageLoader({}, "/tmp", o), UsageError);
  o = LoaderOptions{};
  o.batch_size = 0;
  EXPECT_THROW(ImageLoader({}, "/tmp", o), UsageError);
}

}  // namespace
}  // namespace tedloc::data
