#pragma once
// 8-bit images in memory, and their decoding (JPEG via TurboJPEG, PNG via libpng) and encoding.
#include <cstdint>
#include <string>
#include <vector>

namespace tedloc::data {

// An interleaved 8-bit image: `pixels[(y * width + x) * channels + c]`, channels 1 (gray) or 3 (RGB).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<std::uint8_t> pixels;

  Image() = default;
  Image(int width, int height, int channels, std::uint8_t fill = 0);
  std::uint8_t& at(int x, int y, int c = 0) { return pixels[(static_cast<size_t>(y) * width + x) * channels + c]; }
  std::uint8_t at(int x, int y, int c = 0) const {
    return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
  }
};

// Decodes a JPEG or PNG file (format told by its magic bytes, not its extension) to RGB uint8.
// Gray is replicated, an alpha channel is dropped (as PIL's convert('RGB') that the reference uses),
// 16-bit PNG keeps its high byte (as PIL does for RGB; PIL clips 16-bit gray at 255, a quirk not
// copied; with an alpha channel libpng's sRGB conversion is used instead). Checked bit-exact against Pillow 9.4 on PNG (gray, palette, 1-bit, RGB, RGBA, 16-bit RGB)
// and JPEG (gray, RGB, CMYK). A missing, truncated, corrupt or unsupported file throws
// tedloc::InputError naming the file and the decoder's reason.
Image decode_image(const std::string& path);

// The same for bytes already in memory; `name` is what an error message calls them.
Image decode_image_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name);

// Writes a gray (1 channel) or RGB (3 channels) PNG. The bytes depend only on the pixels
// (no time stamp), so a fixed input gives a byte-identical file. Throws InputError on I/O failure.
void write_png(const std::string& path, const Image& image);

// Writes a baseline JPEG (4:2:0 for RGB) of the given quality with TurboJPEG (tests, benchmarks, figures).
void write_jpeg(const std::string& path, const Image& image, int quality = 90);

}  // namespace tedloc::data
