// .npy reader and writer. Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include "tedloc/eval/npy.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tedloc/error.hpp"

namespace tedloc::eval {
namespace {

[[noreturn]] void fail(const std::string& name, const std::string& reason) {
  throw InputError(name + ": " + reason);
}

// The element type named by a descr string such as "<f4" or "|u1".
struct DType {
  char kind = 0;         // 'f', 'i', 'u' or 'b'
  std::size_t size = 0;  // bytes per element
  bool big_endian = false;
};

DType parse_descr(const std::string& descr, const std::string& name) {
  if (descr.size() != 3) fail(name, "unsupported dtype '" + descr + "'");
  DType t;
  t.kind = descr[1];
  t.size = static_cast<std::size_t>(descr[2] - '0');
  const char order = descr[0];
  const bool known = (t.kind == 'f' && (t.size == 4 || t.size == 8)) ||
                     ((t.kind == 'i' || t.kind == 'u') && (t.size == 1 || t.size == 2 || t.size == 4 || t.size == 8)) ||
                     (t.kind == 'b' && t.size == 1);
  if (!known) fail(name, "unsupported dtype '" + descr + "' (want f4, f8, i1-i8, u1-u8 or b1)");
  if (order == '>') t.big_endian = true;
  else if (order != '<' && order != '=' && !(order == '|' && t.size == 1))
    fail(name, "bad byte order in dtype '" + descr + "'");
  return t;
}

// A strict parser of the header dict numpy writes: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

  void parse(std::string& descr, bool& fortran, std::vector<std::size_t>& shape) {
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    while (skip_space(), peek() != '}') {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr" && !seen_descr) {
        descr = string_literal();
        seen_descr = true;
      } else if (key == "fortran_order" && !seen_fortran) {
        fortran = boolean();
        seen_fortran = true;
      } else if (key == "shape" && !seen_shape) {
        shape = tuple();
        seen_shape = true;
      } else {
        fail(name_, "header: unexpected or repeated key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
      else if (peek() != '}') fail(name_, "header: expected ',' or '}' at offset " + std::to_string(pos_));
    }
    ++pos_;
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n')) ++pos_;
    if (pos_ != s_.size()) fail(name_, "header: trailing characters after the dict");
    if (!seen_descr || !seen_fortran || !seen_shape)
      fail(name_, "header: needs the keys 'descr', 'fortran_order' and 'shape'");
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(name_, std::string("header: expected '") + c + "' at offset " + std::to_string(pos_));
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(name_, "header: expected a string at offset " + std::to_string(pos_));
    const std::size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string::npos || end - pos_ > 64) fail(name_, "header: unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) return pos_ += 4, true;
    if (s_.compare(pos_, 5, "False") == 0) return pos_ += 5, false;
    fail(name_, "header: expected True or False at offset " + std::to_string(pos_));
  }
  std::vector<std::size_t> tuple() {
    std::vector<std::size_t> dims;
    expect('(');
    while (skip_space(), peek() != ')') {
      if (peek() < '0' || peek() > '9') fail(name_, "header: bad shape entry at offset " + std::to_string(pos_));
      std::size_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (std::size_t{1} << 40)) fail(name_, "header: shape dimension too large");
        v = v * 10 + static_cast<std::size_t>(s_[pos_++] - '0');
      }
      dims.push_back(v);
      if (dims.size() > 32) fail(name_, "header: more than 32 dimensions");
      skip_space();
      if (peek() == ',') ++pos_;
      else if (peek() != ')') fail(name_, "header: expected ',' or ')' in shape at offset " + std::to_string(pos_));
    }
    ++pos_;
    return dims;
  }

  const std::string& s_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

// One element at `p` converted to double.
double load_element(const unsigned char* p, const DType& t) {
  unsigned char b[8];
  for (std::size_t i = 0; i < t.size; ++i) b[i] = t.big_endian ? p[t.size - 1 - i] : p[i];
  auto as = [&b](auto v) {
    std::memcpy(&v, b, sizeof v);
    return static_cast<double>(v);
  };
  switch (t.kind) {
    case 'f': return t.size == 4 ? as(float{}) : as(double{});
    case 'b': return b[0] != 0 ? 1.0 : 0.0;
    case 'i':
      switch (t.size) {
        case 1: return as(std::int8_t{});
        case 2: return as(std::int16_t{});
        case 4: return as(std::int32_t{});
        default: return as(std::int64_t{});
      }
    default:
      switch (t.size) {
        case 1: return as(std::uint8_t{});
        case 2: return as(std::uint16_t{});
        case 4: return as(std::uint32_t{});
        default: return as(std::uint64_t{});
      }
  }
}

// Index in C order of the element stored at Fortran-order position `f`.
std::size_t fortran_to_c_index(std::size_t f, const std::vector<std::size_t>& shape) {
  std::size_t c = 0, c_stride = 1;
  std::vector<std::size_t> idx(shape.size());
  for (std::size_t d = 0; d < shape.size(); ++d) {  // Fortran order: first axis fastest
    idx[d] = f % shape[d];
    f /= shape[d];
  }
  for (std::size_t d = shape.size(); d-- > 0;) {
    c += idx[d] * c_stride;
    c_stride *= shape[d];
  }
  return c;
}

}  // namespace

NpyHeader parse_npy_header(const std::string& bytes, const std::string& name) {
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) fail(name, "not a .npy file (bad magic)");
  const auto u8 = [&bytes](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(bytes[i])); };
  const std::size_t major = u8(6);
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = u8(8) | (u8(9) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(name, "truncated header");
    header_len = u8(8) | (u8(9) << 8) | (u8(10) << 16) | (u8(11) << 24);
    header_start = 12;
  } else {
    fail(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(u8(7)));
  }
  if (header_len > bytes.size() - header_start) fail(name, "truncated header");
  const std::string header = bytes.substr(header_start, header_len);

  NpyHeader out;
  HeaderParser(header, name).parse(out.dtype, out.fortran_order, out.shape);
  const DType type = parse_descr(out.dtype, name);
  out.element_size = type.size;
  out.count = 1;
  for (std::size_t d : out.shape) {
    if (d != 0 && out.count > std::numeric_limits<std::size_t>::max() / 16 / d) fail(name, "shape too large");
    out.count *= d;
  }
  out.data_offset = header_start + header_len;
  const std::size_t available = bytes.size() - out.data_offset;
  if (available != out.count * type.size)
    fail(name, "data section holds " + std::to_string(available) + " bytes, the header announces " +
                   std::to_string(out.count * type.size));
  return out;
}

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
  const NpyHeader header = parse_npy_header(bytes, name);
  const DType type = parse_descr(header.dtype, name);
  NpyArray out;
  out.shape = header.shape;
  out.dtype = header.dtype;
  out.data.resize(header.count);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + header.data_offset;
  const bool fortran = header.fortran_order && out.shape.size() > 1;
  for (std::size_t i = 0; i < header.count; ++i)
    out.data[fortran ? fortran_to_c_index(i, out.shape) : i] = load_element(p + i * type.size, type);
  return out;
}

void read_file_bytes(const std::string& path, std::string& bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(path + ": cannot open");
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    bytes.resize(static_cast<std::size_t>(st.st_size));  // no work when it already has that size
    std::size_t got = 0;
    while (ok && got < bytes.size()) {
      const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (r > 0) {
        got += static_cast<std::size_t>(r);
      } else if (r == 0) {  // the file shrank meanwhile: parse what is there
        bytes.resize(got);
      } else if (errno != EINTR) {
        ok = false;
      }
    }
  }
  ::close(fd);
  if (!ok) throw InputError(path + ": read error");
}

NpyArray read_npy(const std::string& path) {
  std::string bytes;
  read_file_bytes(path, bytes);
  return parse_npy(bytes, path);
}

void write_npy_f32(const std::string& path, const float* data, std::size_t rows, std::size_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  // numpy pads the header with spaces so that the data starts at a multiple of 64 bytes, then '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path + ": cannot open for writing");
  const unsigned char preamble[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                      static_cast<unsigned char>(header.size() & 0xff),
                                      static_cast<unsigned char>(header.size() >> 8)};
  out.write(reinterpret_cast<const char*>(preamble), sizeof preamble);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  // The machine is little endian (x86-64, aarch64), as '<f4' requires.
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(rows * cols * sizeof(float)));
  if (!out) throw InputError(path + ": write error");
}

}  // namespace tedloc::eval
