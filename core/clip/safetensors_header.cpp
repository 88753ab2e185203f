#include "tedloc/clip/safetensors_header.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tedloc/error.hpp"
#include "tedloc/json_parse.hpp"

namespace tedloc::clip {
namespace {

// The header is JSON text; real checkpoints have a few hundred kB of it. 100 MB is the
// reference implementation's own limit and keeps a corrupt length from allocating gigabytes.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeSize {
  const char* name;
  std::uint64_t bytes;
};
constexpr DtypeSize kDtypes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
                                 {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1}};

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw InputError(fmt::format("{}: {}", path, reason));
}
[[noreturn]] void fail(const std::string& path, const std::string& tensor, const std::string& reason) {
  throw InputError(fmt::format("{}: tensor '{}': {}", path, tensor, reason));
}

std::uint64_t element_size(const std::string& path, const std::string& tensor, const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.bytes;
  fail(path, tensor, fmt::format("unsupported dtype '{}'", name));
}

std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// One header entry, validated against the data section's size.
SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j,
                             std::uint64_t data_bytes) {
  if (!j.is_object()) fail(path, name, "header entry is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!j.contains(field)) fail(path, name, fmt::format("header entry lacks \"{}\"", field));
  if (!j["dtype"].is_string()) fail(path, name, "\"dtype\" is not a string");
  SafetensorsEntry e{name, j["dtype"].get<std::string>(), {}, 0, 0};
  const std::uint64_t bytes_per_element = element_size(path, name, e.dtype);

  const auto& shape = j["shape"];
  if (!shape.is_array()) fail(path, name, "\"shape\" is not an array");
  // Bounded as if no dimension were 0: LibTorch takes every dimension as an int64 and computes strides from
  // the others, so [0, 2^64 - 1] is no empty tensor but a negative dimension.
  std::uint64_t numel = 1;
  bool empty = false;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) fail(path, name, fmt::format("shape {} has a non-integer or negative entry", shape.dump()));
    const auto n = d.get<std::uint64_t>();
    const std::uint64_t factor = std::max<std::uint64_t>(n, 1);
    if (numel > std::numeric_limits<std::uint64_t>::max() / factor / 8)
      fail(path, name, fmt::format("shape {} is too large", shape.dump()));
    numel *= factor;
    empty = empty || n == 0;
    e.shape.push_back(static_cast<std::int64_t>(n));
  }
  if (empty) numel = 0;

  const auto& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail(path, name, fmt::format("\"data_offsets\" {} is not a pair of non-negative integers", off.dump()));
  e.begin = off[0].get<std::uint64_t>();
  e.end = off[1].get<std::uint64_t>();
  if (e.begin > e.end || e.end > data_bytes)
    fail(path, name, fmt::format("data_offsets [{}, {}] outside the data section of {} bytes", e.begin, e.end, data_bytes));
  const std::uint64_t expected = numel * bytes_per_element;
  if (e.end - e.begin != expected)
    fail(path, name, fmt::format("data_offsets [{}, {}] hold {} bytes, but {} x {} needs {}", e.begin, e.end,
                                 e.end - e.begin, e.dtype, shape.dump(), expected));
  return e;
}

}  // namespace

SafetensorsHeader read_safetensors_header(std::istream& in, std::uint64_t file_bytes, const std::string& path) {
  unsigned char len_bytes[8];
  if (file_bytes < 8 || !in.read(reinterpret_cast<char*>(len_bytes), 8))
    fail(path, fmt::format("file of {} bytes is too short for a safetensors header", file_bytes));
  const std::uint64_t header_bytes = read_u64_le(len_bytes);
  if (header_bytes < 2 || header_bytes > kMaxHeaderBytes || header_bytes > file_bytes - 8)
    fail(path, fmt::format("header length {} is impossible for a file of {} bytes", header_bytes, file_bytes));

  std::string text(header_bytes, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(header_bytes))) fail(path, "cannot read the header");
  nlohmann::json j;
  try {
    j = parse_json_bounded(text, path);
  } catch (const nlohmann::json::parse_error& err) {
    fail(path, fmt::format("header is not valid JSON (byte {})", err.byte));
  }
  if (!j.is_object()) fail(path, "header is not a JSON object");

  SafetensorsHeader out;
  out.data_start = 8 + header_bytes;
  const std::uint64_t data_bytes = file_bytes - out.data_start;
  for (const auto& [name, value] : j.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path, "\"__metadata__\" is not a JSON object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) fail(path, fmt::format("\"__metadata__\".\"{}\" is not a string", k));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    out.entries.push_back(parse_entry(path, name, value, data_bytes));
  }

  // The format packs the tensors without gaps or overlaps and the data section holds nothing else;
  // anything else is a truncated, padded or hand-corrupted file.
  std::sort(out.entries.begin(), out.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  std::uint64_t cursor = 0;
  for (const auto& e : out.entries) {
    if (e.begin != cursor)
      fail(path, e.name, fmt::format("data_offsets start at {}, expected {} (tensors must be packed without gap or overlap)", e.begin, cursor));
    cursor = e.end;
  }
  if (cursor != data_bytes)
    fail(path, fmt::format("the tensors cover {} bytes of a data section of {} bytes", cursor, data_bytes));
  return out;
}

}  // namespace tedloc::clip
