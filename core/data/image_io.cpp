// JPEG (TurboJPEG) and PNG (libpng) decoding and encoding.
// Both libraries report errors through setjmp/longjmp. TurboJPEG and libpng's simplified png_image_*
// reader catch their longjmp internally and return an error code; the PNG writer (encode_png) sets its
// own jump point in a frame without C++ objects. So no longjmp ever skips a C++ destructor.
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

// PIL's decompression-bomb limit (2 x Image.MAX_IMAGE_PIXELS), which the reference's loader raises on: a header of
// a few bytes can announce 65535 x 65535 pixels (12 GB decoded), or in PNG up to libpng's 10^6 x 10^6.
constexpr std::uint64_t kMaxPixels = 2 * 89'478'485;

bool too_many_pixels(std::uint64_t width, std::uint64_t height) { return width * height > kMaxPixels; }

[[noreturn]] void fail_too_many_pixels(const char* format, std::uint64_t width, std::uint64_t height,
                                       const std::string& name) {
  fail(name, std::string(format) + " of " + std::to_string(width) + " x " + std::to_string(height) +
                 " pixels, more than " + std::to_string(kMaxPixels) + " (PIL's decompression-bomb limit)");
}

bool is_jpeg(const std::vector<std::uint8_t>& b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }
bool is_png(const std::vector<std::uint8_t>& b) { return b.size() >= 8 && png_sig_cmp(b.data(), 0, 8) == 0; }

// One TurboJPEG decompressor per thread: creating one allocates the codec state. A failed call can leave
// the handle mid-header (tjDecompressHeader3 does not abort on error), so it is replaced after any failure.
class Decompressor {
 public:
  Decompressor() : h_(tjInitDecompress()) {}
  ~Decompressor() { if (h_) tjDestroy(h_); }
  tjhandle get() const { return h_; }
  [[noreturn]] void fail_and_reset(const std::string& name, const std::string& what) {
    const std::string reason = what + " (" + tjGetErrorStr2(h_) + ")";
    tjDestroy(h_);
    h_ = tjInitDecompress();
    fail(name, reason);
  }

 private:
  tjhandle h_;
};

// Adobe CMYK/YCCK JPEGs (the common kind) store inverted ink values: R = C * K / 255.
void cmyk_to_rgb(const std::vector<std::uint8_t>& cmyk, Image& out) {
  for (size_t i = 0, n = static_cast<size_t>(out.width) * out.height; i < n; ++i) {
    const unsigned k = cmyk[4 * i + 3];
    for (int c = 0; c < 3; ++c) out.pixels[3 * i + c] = static_cast<std::uint8_t>((cmyk[4 * i + c] * k + 127) / 255);
  }
}

Image decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  thread_local Decompressor decompressor;
  tjhandle tj = decompressor.get();
  if (!tj) fail(name, "cannot initialise the JPEG decoder");
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, bytes.data(), bytes.size(), &width, &height, &subsamp, &colorspace) != 0)
    decompressor.fail_and_reset(name, "corrupt JPEG header");
  if (width <= 0 || height <= 0) fail(name, "JPEG with an empty image");
  if (too_many_pixels(static_cast<std::uint64_t>(width), static_cast<std::uint64_t>(height)))
    fail_too_many_pixels("JPEG", static_cast<std::uint64_t>(width), static_cast<std::uint64_t>(height), name);
  Image out(width, height, 3);
  // Any warning (e.g. "Premature end of JPEG file" for a truncated file) is an error too: a partly
  // grey image must never be trained on silently.
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  std::vector<std::uint8_t> cmyk_pixels(cmyk ? static_cast<size_t>(width) * height * 4 : 0);
  const int rc = tjDecompress2(tj, bytes.data(), bytes.size(), cmyk ? cmyk_pixels.data() : out.pixels.data(), width,
                               0, height, cmyk ? TJPF_CMYK : TJPF_RGB, TJFLAG_ACCURATEDCT);
  if (rc != 0) decompressor.fail_and_reset(name, "corrupt or truncated JPEG");
  if (cmyk) cmyk_to_rgb(cmyk_pixels, out);
  return out;
}

Image decode_png(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    fail(name, std::string("corrupt PNG (") + png.message + ")");
  if (too_many_pixels(png.width, png.height)) {
    png_image_free(&png);  // begin_read succeeded: its state is ours to free
    fail_too_many_pixels("PNG", png.width, png.height, name);
  }
  const bool alpha = (png.format & PNG_FORMAT_FLAG_ALPHA) != 0;
  Image out(static_cast<int>(png.width), static_cast<int>(png.height), 3);
  const size_t n = static_cast<size_t>(out.width) * out.height;
  if ((png.format & PNG_FORMAT_FLAG_LINEAR) && !alpha) {
    // 16-bit: libpng would gamma-encode it to 8-bit sRGB; PIL (the reference) keeps the high byte.
    png.format = PNG_FORMAT_LINEAR_RGB;
    std::vector<png_uint_16> wide(PNG_IMAGE_SIZE(png) / sizeof(png_uint_16));
    if (!png_image_finish_read(&png, nullptr, wide.data(), 0, nullptr))
      fail(name, std::string("corrupt or truncated PNG (") + png.message + ")");
    for (size_t i = 0; i < 3 * n; ++i) out.pixels[i] = static_cast<std::uint8_t>(wide[i] >> 8);
    return out;
  }
  // Read with alpha when there is one and drop it ourselves: asking libpng for RGB would composite.
  png.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  std::vector<std::uint8_t> buffer(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, buffer.data(), 0, nullptr))
    fail(name, std::string("corrupt or truncated PNG (") + png.message + ")");
  if (!alpha) {
    out.pixels = std::move(buffer);
  } else {
    for (size_t i = 0; i < n; ++i)
      for (int c = 0; c < 3; ++c) out.pixels[3 * i + c] = buffer[4 * i + c];
  }
  return out;
}

// libpng's full write API (the simplified one cannot choose the compression level). Its errors longjmp
// back into encode_png, whose frame holds no C++ object, and the write callback never throws: it writes
// into a buffer sized in advance and reports an overflow as a libpng error.
struct PngSink {
  std::uint8_t* data;
  size_t capacity;
  size_t size;
  char message[256];
};

void png_on_error(png_structp png, png_const_charp message) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->message, sizeof sink->message, "%s", message);
  png_longjmp(png, 1);
}

void png_on_warning(png_structp, png_const_charp) {}

void png_on_write(png_structp png, png_bytep data, size_t length) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  if (length > sink->capacity - sink->size) png_error(png, "encoded PNG larger than its buffer");
  std::memcpy(sink->data + sink->size, data, length);
  sink->size += length;
}

// Level 1 with the Sub filter: ~4x faster than zlib's default level on the generator's canvases and
// figures, for files a little larger. Returns false with sink.message set on failure.
bool encode_png(const Image& image, PngSink& sink) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_on_error, png_on_warning);
  if (!png) {
    std::snprintf(sink.message, sizeof sink.message, "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  if (!info) png_error(png, "out of memory");
  png_set_write_fn(png, &sink, png_on_write, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               image.channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 1);
  png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(image.width) * image.channels;
  for (int y = 0; y < image.height; ++y) png_write_row(png, image.pixels.data() + y * stride);
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return true;
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
  // Compressed data never exceeds the raw rows plus zlib's and PNG's small overheads.
  const size_t raw = static_cast<size_t>(image.width * image.channels + 1) * image.height;
  std::vector<std::uint8_t> encoded(raw + raw / 100 + 4096);
  PngSink sink{encoded.data(), encoded.size(), 0, {}};
  if (!encode_png(image, sink)) fail(path, std::string("PNG encoding failed (") + sink.message + ")");
  write_file(path, encoded.data(), sink.size);
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
