// JPEG (TurboJPEG) and PNG (libpng's simplified API) decoding and encoding.
// Both libraries report errors through setjmp/longjmp, but only inside their own C frames: TurboJPEG
// and libpng's png_image_* functions catch their longjmp internally and return an error code, so no
// longjmp ever crosses a C++ frame here.
#include "tedloc/data/image.hpp"

#include <png.h>
#include <turbojpeg.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "tedloc/error.hpp"

namespace tedloc::data {

Image::Image(int w, int h, int c, std::uint8_t fill)
    : width(w), height(h), channels(c), pixels(static_cast<size_t>(w) * h * c, fill) {}

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& reason) {
  throw InputError(name + ": " + reason);
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, std::string("cannot open image (") + std::strerror(errno) + ")");
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
  if (std::ferror(f.get())) fail(path, std::string("read error (") + std::strerror(errno) + ")");
  return bytes;
}

void write_file(const std::string& path, const void* data, size_t size) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) fail(path, std::string("cannot create (") + std::strerror(errno) + ")");
  if (std::fwrite(data, 1, size, f.get()) != size || std::fflush(f.get()) != 0)
    fail(path, std::string("write error (") + std::strerror(errno) + ")");
}

bool is_jpeg(const std::vector<std::uint8_t>& b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }
bool is_png(const std::vector<std::uint8_t>& b) { return b.size() >= 8 && png_sig_cmp(b.data(), 0, 8) == 0; }

// One TurboJPEG handle per thread and direction: creating one allocates the codec state.
struct TjHandle {
  tjhandle h;
  explicit TjHandle(tjhandle handle) : h(handle) {}
  ~TjHandle() { if (h) tjDestroy(h); }
};

tjhandle decompressor() {
  thread_local TjHandle handle(tjInitDecompress());
  return handle.h;
}

// Adobe CMYK/YCCK JPEGs (the common kind) store inverted ink values: R = C * K / 255.
void cmyk_to_rgb(const std::vector<std::uint8_t>& cmyk, Image& out) {
  for (size_t i = 0, n = static_cast<size_t>(out.width) * out.height; i < n; ++i) {
    const unsigned k = cmyk[4 * i + 3];
    for (int c = 0; c < 3; ++c) out.pixels[3 * i + c] = static_cast<std::uint8_t>((cmyk[4 * i + c] * k + 127) / 255);
  }
}

Image decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  tjhandle tj = decompressor();
  if (!tj) fail(name, "cannot initialise the JPEG decoder");
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, bytes.data(), bytes.size(), &width, &height, &subsamp, &colorspace) != 0)
    fail(name, std::string("corrupt JPEG header (") + tjGetErrorStr2(tj) + ")");
  if (width <= 0 || height <= 0) fail(name, "JPEG with an empty image");
  Image out(width, height, 3);
  // Any warning (e.g. "Premature end of JPEG file" for a truncated file) is an error too: a partly
  // grey image must never be trained on silently.
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  std::vector<std::uint8_t> cmyk_pixels(cmyk ? static_cast<size_t>(width) * height * 4 : 0);
  const int rc = tjDecompress2(tj, bytes.data(), bytes.size(), cmyk ? cmyk_pixels.data() : out.pixels.data(), width,
                               0, height, cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT);
  if (rc != 0) fail(name, std::string("corrupt or truncated JPEG (") + tjGetErrorStr2(tj) + ")");
  if (cmyk) cmyk_to_rgb(cmyk_pixels, out);
  return out;
}

Image decode_png(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    fail(name, std::string("corrupt PNG (") + png.message + ")");
  // Read with alpha when there is one and drop it ourselves: asking libpng for RGB would composite.
  const bool alpha = (png.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  png.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  std::vector<std::uint8_t> buffer(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, buffer.data(), 0, nullptr))
    fail(name, std::string("corrupt or truncated PNG (") + png.message + ")");
  Image out(static_cast<int>(png.width), static_cast<int>(png.height), 3);
  if (!alpha) {
    out.pixels = std::move(buffer);
  } else {
    for (size_t i = 0, n = static_cast<size_t>(out.width) * out.height; i < n; ++i)
      for (int c = 0; c < 3; ++c) out.pixels[3 * i + c] = buffer[4 * i + c];
  }
  return out;
}

void check_writable(const std::string& path, const Image& image) {
  if (image.channels != 1 && image.channels != 3) fail(path, "can only write gray or RGB images");
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels)
    fail(path, "image buffer does not match its size");
}

}  // namespace

Image decode_image_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  if (bytes.empty()) fail(name, "empty image file");
  if (is_jpeg(bytes)) return decode_jpeg(bytes, name);
  if (is_png(bytes)) return decode_png(bytes, name);
  fail(name, "not a JPEG or PNG file (unknown magic bytes)");
}

Image decode_image(const std::string& path) { return decode_image_bytes(read_file(path), path); }

void write_png(const std::string& path, const Image& image) {
  check_writable(path, image);
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(png);
  std::vector<std::uint8_t> encoded(size);
  if (!png_image_write_to_memory(&png, encoded.data(), &size, 0, image.pixels.data(), 0, nullptr))
    fail(path, std::string("PNG encoding failed (") + png.message + ")");
  write_file(path, encoded.data(), size);
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  check_writable(path, image);
  std::unique_ptr<void, int (*)(tjhandle)> tj(tjInitCompress(), &tjDestroy);
  if (!tj) fail(path, "cannot initialise the JPEG encoder");
  unsigned char* encoded = nullptr;
  unsigned long size = 0;
  const bool gray = image.channels == 1;
  const int rc = tjCompress2(tj.get(), image.pixels.data(), image.width, 0, image.height, gray ? TJPF_GRAY : TJPF_RGB,
                             &encoded, &size, gray ? TJSAMP_GRAY : TJSAMP_420, quality, TJFLAG_ACCURATEDCT);
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(encoded, &tjFree);
  if (rc != 0) fail(path, std::string("JPEG encoding failed (") + tjGetErrorStr2(tj.get()) + ")");
  write_file(path, encoded, size);
}

}  // namespace tedloc::data
