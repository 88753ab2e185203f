#include "tedloc/clip/safetensors.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "tedloc/clip/safetensors_header.hpp"
#include "tedloc/error.hpp"

namespace tedloc::clip {
namespace {

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

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  if (!host_is_little_endian()) fail(path, "safetensors reading needs a little-endian host");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail(path, "cannot open file");
  const auto file_bytes = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  SafetensorsHeader header = read_safetensors_header(in, file_bytes, path);
  SafetensorsFile out;
  out.metadata = std::move(header.metadata);
  for (const auto& e : header.entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(dtype_from_name(path, e.name, e.dtype)));
    in.seekg(static_cast<std::streamoff>(header.data_start + e.begin));
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
