// Decoding and encoding: round trips through real files, and every failure an InputError naming the file.
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <cstring>

#include "data_test_util.hpp"
#include "tedloc/data/image.hpp"
#include "tedloc/error.hpp"

namespace tedloc::data {
namespace {

using testing::file_bytes;
using testing::pattern;
using testing::TempDir;
using testing::write_bytes;

// Expects `fn` to throw an InputError whose one-line message names `path`.
template <class Fn>
void expect_input_error_naming(Fn fn, const std::string& path) {
  try {
    fn();
    ADD_FAILURE() << "no error for " << path;
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

double mean_abs_diff(const Image& a, const Image& b) {
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / a.pixels.size();
}

TEST(ImageIo, PngRgbRoundTripIsExact) {
  TempDir dir;
  const Image img = pattern(67, 45);
  write_png(dir / "a.png", img);
  const Image back = decode_image(dir / "a.png");
  EXPECT_EQ(back.width, 67);
  EXPECT_EQ(back.height, 45);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.pixels, img.pixels);
}

TEST(ImageIo, PngGrayDecodesToReplicatedRgb) {
  TempDir dir;
  Image gray(20, 10, 1);
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = static_cast<std::uint8_t>(i * 7);
  write_png(dir / "g.png", gray);
  const Image back = decode_image(dir / "g.png");
  ASSERT_EQ(back.channels, 3);
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 20; ++x)
      for (int c = 0; c < 3; ++c) ASSERT_EQ(back.at(x, y, c), gray.at(x, y));
}

TEST(ImageIo, PngAlphaIsDroppedNotComposited) {
  TempDir dir;
  const int w = 8, h = 4;
  std::vector<std::uint8_t> rgba(w * h * 4);
  for (int i = 0; i < w * h; ++i) {
    rgba[4 * i] = 200;
    rgba[4 * i + 1] = static_cast<std::uint8_t>(i);
    rgba[4 * i + 2] = 10;
    rgba[4 * i + 3] = static_cast<std::uint8_t>(i * 8);  // mostly transparent
  }
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = w;
  png.height = h;
  png.format = PNG_FORMAT_RGBA;
  ASSERT_TRUE(png_image_write_to_file(&png, (dir / "rgba.png").c_str(), 0, rgba.data(), 0, nullptr));
  const Image back = decode_image(dir / "rgba.png");
  for (int i = 0; i < w * h; ++i) {
    EXPECT_EQ(back.pixels[3 * i], 200);
    EXPECT_EQ(back.pixels[3 * i + 1], i);
    EXPECT_EQ(back.pixels[3 * i + 2], 10);
  }
}

TEST(ImageIo, Png16BitKeepsTheHighByte) {
  TempDir dir;
  const int w = 5, h = 3;
  std::vector<png_uint_16> rgb(w * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<png_uint_16>(i * 4099 + 77);
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = w;
  png.height = h;
  png.format = PNG_FORMAT_LINEAR_RGB;
  ASSERT_TRUE(png_image_write_to_file(&png, (dir / "wide.png").c_str(), 0, rgb.data(), 0, nullptr));
  const Image back = decode_image(dir / "wide.png");
  for (size_t i = 0; i < rgb.size(); ++i) ASSERT_EQ(back.pixels[i], rgb[i] >> 8) << i;
}

TEST(ImageIo, PngWriterIsDeterministic) {
  TempDir dir;
  write_png(dir / "a.png", pattern(30, 30));
  write_png(dir / "b.png", pattern(30, 30));
  EXPECT_EQ(file_bytes(dir / "a.png"), file_bytes(dir / "b.png"));
}

TEST(ImageIo, JpegRgbAndGrayDecode) {
  TempDir dir;
  const Image img = pattern(500, 375);
  write_jpeg(dir / "a.jpg", img, 95);
  const Image back = decode_image(dir / "a.jpg");
  ASSERT_EQ(back.width, 500);
  ASSERT_EQ(back.height, 375);
  EXPECT_LT(mean_abs_diff(back, img), 3.0);  // lossy, but close at quality 95

  Image gray(33, 21, 1);
  for (size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = static_cast<std::uint8_t>((i * 3) % 256);
  write_jpeg(dir / "g.jpg", gray, 95);
  const Image g = decode_image(dir / "g.jpg");
  ASSERT_EQ(g.channels, 3);
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    ASSERT_EQ(g.pixels[3 * i], g.pixels[3 * i + 1]);
    ASSERT_EQ(g.pixels[3 * i], g.pixels[3 * i + 2]);
  }
}

TEST(ImageIo, FormatComesFromTheBytesNotTheExtension) {
  TempDir dir;
  write_jpeg(dir / "really_a_jpeg.png", pattern(16, 16), 90);
  EXPECT_EQ(decode_image(dir / "really_a_jpeg.png").width, 16);
}

TEST(ImageIo, MissingFileNamesIt) {
  TempDir dir;
  expect_input_error_naming([&] { decode_image(dir / "nope.jpg"); }, dir / "nope.jpg");
}

TEST(ImageIo, TruncatedJpegNamesIt) {
  TempDir dir;
  write_jpeg(dir / "t.jpg", pattern(120, 90), 90);
  auto bytes = file_bytes(dir / "t.jpg");
  bytes.resize(bytes.size() / 2);
  write_bytes(dir / "t.jpg", bytes);
  expect_input_error_naming([&] { decode_image(dir / "t.jpg"); }, dir / "t.jpg");
}

TEST(ImageIo, CorruptJpegHeaderNamesIt) {
  TempDir dir;
  write_jpeg(dir / "c.jpg", pattern(64, 64), 90);
  auto bytes = file_bytes(dir / "c.jpg");
  for (size_t i = 3; i < 200 && i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 13);
  write_bytes(dir / "c.jpg", bytes);
  expect_input_error_naming([&] { decode_image(dir / "c.jpg"); }, dir / "c.jpg");
  // The failure must not spoil the thread's decoder for the next, good file.
  write_jpeg(dir / "good.jpg", pattern(64, 64), 90);
  EXPECT_EQ(decode_image(dir / "good.jpg").width, 64);
}

TEST(ImageIo, TruncatedPngNamesIt) {
  TempDir dir;
  write_png(dir / "t.png", pattern(64, 64));
  auto bytes = file_bytes(dir / "t.png");
  bytes.resize(bytes.size() * 2 / 3);
  write_bytes(dir / "t.png", bytes);
  expect_input_error_naming([&] { decode_image(dir / "t.png"); }, dir / "t.png");
}

TEST(ImageIo, PngWithBadChecksumNamesIt) {
  TempDir dir;
  write_png(dir / "c.png", pattern(64, 64));
  auto bytes = file_bytes(dir / "c.png");
  bytes[bytes.size() / 2] ^= 0xFF;  // inside IDAT: its CRC no longer matches
  write_bytes(dir / "c.png", bytes);
  expect_input_error_naming([&] { decode_image(dir / "c.png"); }, dir / "c.png");
}

// Found by fuzzing (tests/fuzz/corpus/image/bomb-*): a header of a few hundred bytes announcing 65500 x 65500
// (JPEG) or 10^6 x 10^6 (PNG) pixels made the decoder allocate 12 GB, or 3 TB, before reading any pixel.
TEST(ImageIo, DecompressionBombsAreRefusedBeforeAllocating) {
  TempDir dir;
  write_jpeg(dir / "b.jpg", pattern(8, 8), 90);
  auto jpeg = file_bytes(dir / "b.jpg");
  size_t sof = 2;
  while (sof + 9 < jpeg.size() && !(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  ASSERT_LT(sof + 9, jpeg.size());
  for (size_t i : {sof + 5, sof + 7}) jpeg[i] = 0xFF, jpeg[i + 1] = 0xDC;  // height, width: 65500
  write_bytes(dir / "b.jpg", jpeg);
  expect_input_error_naming([&] { decode_image(dir / "b.jpg"); }, dir / "b.jpg");

  write_png(dir / "b.png", pattern(8, 8));
  auto png = file_bytes(dir / "b.png");
  for (size_t i : {16, 20}) png[i] = 0x00, png[i + 1] = 0x0F, png[i + 2] = 0x42, png[i + 3] = 0x40;  // 10^6
  const auto crc = crc32(0, png.data() + 12, 17);  // IHDR's type and data
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
  write_bytes(dir / "b.png", png);
  try {
    decode_image(dir / "b.png");
    ADD_FAILURE() << "no error for a 10^6 x 10^6 PNG";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("decompression-bomb"), std::string::npos) << e.what();
  }
}

TEST(ImageIo, EmptyAndForeignFilesNameThem) {
  TempDir dir;
  write_bytes(dir / "empty.jpg", {});
  expect_input_error_naming([&] { decode_image(dir / "empty.jpg"); }, dir / "empty.jpg");
  write_bytes(dir / "text.jpg", {'h', 'e', 'l', 'l', 'o', '\n'});
  expect_input_error_naming([&] { decode_image(dir / "text.jpg"); }, dir / "text.jpg");
}

TEST(ImageIo, WriterRejectsBadBuffersAndUnwritablePaths) {
  TempDir dir;
  Image bad(4, 4, 3);
  bad.pixels.resize(5);
  expect_input_error_naming([&] { write_png(dir / "bad.png", bad); }, dir / "bad.png");
  const std::string missing = dir / "no/such/folder/x.png";
  expect_input_error_naming([&] { write_png(missing, pattern(4, 4)); }, missing);
}

}  // namespace
}  // namespace tedloc::data
