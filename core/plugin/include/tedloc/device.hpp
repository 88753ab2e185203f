#pragma once
// Where a run computes and at which precision. Device: "cpu", "cuda" or "auto" (CUDA when available).
// Precision: "fp32": plain float32. "bf16": LibTorch's autocast on the run's device, so the
// ops on autocast's lists (matrix products, convolutions, attention) run in bfloat16 and the rest stay float32.
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace tedloc {

// The device named by "cpu", "cuda" or "auto". Throws InputError for "cuda" without CUDA or another name.
c10::Device resolve_device(const std::string& requested);

// Whether autocast is on for this device type in this thread (a PrecisionScope or the caller's own).
bool autocast_enabled(c10::DeviceType type);

// Enables autocast for `device` while it lives (this thread only, as autocast state is thread-local) and
// restores the previous state after. A no-op for "fp32". Throws InputError for another precision name.
class PrecisionScope {
 public:
  PrecisionScope(c10::Device device, const std::string& precision);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false, was_caching_ = true;
  c10::ScalarType was_dtype_ = c10::ScalarType::Float;
};

}  // namespace tedloc
