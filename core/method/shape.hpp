#pragma once
// A tensor's shape for error messages: "[2, 3]", or "undefined".
#include <string>

#include <fmt/format.h>
#include <torch/types.h>

namespace tedloc::method {
inline std::string shape_of(const torch::Tensor& t) {
  return t.defined() ? fmt::format("[{}]", fmt::join(t.sizes(), ", ")) : "undefined";
}
}  // namespace tedloc::method
