#include "tedloc/clip/safetensors.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tedloc/error.hpp"

namespace tedloc::clip {
namespace {

// The header is JSON text; real checkpoints have a few hundred kB of it. 100 MB is the
// reference implementation's own limit and keeps a corrupt length from allocating gigabytes.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", torch::kFloat64}, {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64}, {"I32", torch::kInt32},
    {"I16", torch::kInt16},   {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool}};

bool host_is_little_endian() {
  const std::uint16_t probe = 1;
  return *reinterpret_cast<const unsigned char*>(&probe) == 1;
}

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw InputError(fmt::format("{}: {}", path, reason));
}
[[noreturn]] void fail(const std::string& path, const std::string& tensor, const std::string& reason) {
  throw InputError(fmt::format("{}: tensor '{}': {}", path, tensor, reason));
}

torch::ScalarType dtype_from_name(const std::string& path, const std::string& tensor, const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return d.type;
  fail(path, tensor, fmt::format("unsupported dtype '{}'", name));
}

const char* dtype_name(const std::string& path, const std::string& tensor, torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return d.name;
  fail(path, tensor, fmt::format("cannot write dtype {}", c10::toString(type)));
}

std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// One header entry, validated against the data section's size.
struct Entry {
  std::string name;
  torch::ScalarType type;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j,
                  std::uint64_t data_bytes) {
  if (!j.is_object()) fail(path, name, "header entry is not a JSON object");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!j.contains(field)) fail(path, name, fmt::format("header entry lacks \"{}\"", field));
  if (!j["dtype"].is_string()) fail(path, name, "\"dtype\" is not a string");
  Entry e{name, dtype_from_name(path, name, j["dtype"].get<std::string>()), {}, 0, 0};

  const auto& shape = j["shape"];
  if (!shape.is_array()) fail(path, name, "\"shape\" is not an array");
  std::uint64_t numel = 1;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned()) fail(path, name, fmt::format("shape {} has a non-integer or negative entry", shape.dump()));
    const auto n = d.get<std::uint64_t>();
    if (n != 0 && numel > std::numeric_limits<std::uint64_t>::max() / n / 8)
      fail(path, name, fmt::format("shape {} is too large", shape.dump()));
    numel *= n;
    e.shape.push_back(static_cast<std::int64_t>(n));
  }

  const auto& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail(path, name, fmt::format("\"data_offsets\" {} is not a pair of non-negative integers", off.dump()));
  e.begin = off[0].get<std::uint64_t>();
  e.end = off[1].get<std::uint64_t>();
  if (e.begin > e.end || e.end > data_bytes)
    fail(path, name, fmt::format("data_offsets [{}, {}] outside the data section of {} bytes", e.begin, e.end, data_bytes));
  const std::uint64_t expected = numel * c10::elementSize(e.type);
  if (e.end - e.begin != expected)
    fail(path, name, fmt::format("data_offsets [{}, {}] hold {} bytes, but {} x {} needs {}", e.begin, e.end,
                                 e.end - e.begin, j["dtype"].get<std::string>(), shape.dump(), expected));
  return e;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  if (!host_is_little_endian()) fail(path, "safetensors reading needs a little-endian host");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, "cannot open file");
  const auto file_bytes = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);

  unsigned char len_bytes[8];
  if (file_bytes < 8 || !in.read(reinterpret_cast<char*>(len_bytes), 8))
    fail(path, fmt::format("file of {} bytes is too short for a safetensors header", file_bytes));
  const std::uint64_t header_bytes = read_u64_le(len_bytes);
  if (header_bytes < 2 || header_bytes > kMaxHeaderBytes || header_bytes > file_bytes - 8)
    fail(path, fmt::format("header length {} is impossible for a file of {} bytes", header_bytes, file_bytes));

  std::string header(header_bytes, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_bytes))) fail(path, "cannot read the header");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::parse_error& err) {
    fail(path, fmt::format("header is not valid JSON (byte {})", err.byte));
  }
  if (!j.is_object()) fail(path, "header is not a JSON object");

  const std::uint64_t data_start = 8 + header_bytes;
  const std::uint64_t data_bytes = file_bytes - data_start;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [name, value] : j.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) fail(path, "\"__metadata__\" is not a JSON object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) fail(path, fmt::format("\"__metadata__\".\"{}\" is not a string", k));
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, value, data_bytes));
  }

  // The format packs the tensors without gaps or overlaps and the data section holds nothing else;
  // anything else is a truncated, padded or hand-corrupted file.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  std::uint64_t cursor = 0;
  for (const auto& e : entries) {
    if (e.begin != cursor)
      fail(path, e.name, fmt::format("data_offsets start at {}, expected {} (tensors must be packed without gap or overlap)", e.begin, cursor));
    cursor = e.end;
  }
  if (cursor != data_bytes)
    fail(path, fmt::format("the tensors cover {} bytes of a data section of {} bytes", cursor, data_bytes));

  for (const auto& e : entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.type));
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e.end - e.begin)))
      fail(path, e.name, "cannot read its data");
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  if (!host_is_little_endian()) fail(path, "safetensors writing needs a little-endian host");
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> data;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") fail(path, name, "the name is reserved for metadata");
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const std::uint64_t bytes = t.numel() * t.element_size();
    header[name] = {{"dtype", dtype_name(path, name, t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the format pads the header to a multiple of 8

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(path, "cannot create file");
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));
    out.write(reinterpret_cast<const char*>(len_bytes), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& t : data)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
    if (!out.flush()) fail(path, "write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path, "cannot rename the temporary file into place");
}

}  // namespace tedloc::clip
