#pragma once
// Reading and writing `.safetensors` files (https://github.com/huggingface/safetensors), parsed here:
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets}} plus an
// optional "__metadata__" map of strings, then the raw little-endian tensor data packed back to back.
#include <map>
#include <string>

#include <torch/types.h>

namespace tedloc::clip {

using TensorMap = std::map<std::string, torch::Tensor>;

struct SafetensorsFile {
  TensorMap tensors;                            // in the stored dtype (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry, empty when absent
};

// Reads the whole file. Validates strictly (header length, JSON, dtype, shape, offsets in range,
// byte count = numel x element size, tensors contiguous and covering the data section exactly) and
// throws InputError naming the file and, where there is one, the tensor.
SafetensorsFile read_safetensors(const std::string& path);

// Writes the tensors (any device/layout: copied to contiguous CPU), sorted by name, with the metadata.
// The file is written beside its final name and renamed, so a reader never sees half a file.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace tedloc::clip
