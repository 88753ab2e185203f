#pragma once
// The byte-level part of reading a `.safetensors` file, without LibTorch: the length prefix and the JSON
// header, validated against the file's size before any tensor is read (read_safetensors' first step).
#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

namespace tedloc::clip {

// One tensor of the header: its dtype name ("F32", ...), shape and byte range in the data section.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

struct SafetensorsHeader {
  std::uint64_t data_start = 0;                 // 8 + the JSON header's length
  std::vector<SafetensorsEntry> entries;        // by data offset: they tile the data section exactly
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry, empty when absent
};

// Reads the header from `in`, positioned at the start of a file of `file_bytes` bytes, and validates it
// strictly (header length, JSON, dtype, shape, offsets in range, byte count = numel x element size,
// tensors packed without gap or overlap over the whole data section). Throws InputError naming `path`
// and, where there is one, the tensor.
SafetensorsHeader read_safetensors_header(std::istream& in, std::uint64_t file_bytes, const std::string& path);

}  // namespace tedloc::clip
