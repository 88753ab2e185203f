#include "tedloc/device.hpp"

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "tedloc/error.hpp"

namespace tedloc {
namespace {

// LibTorch 2.4 made the autocast switches per device type; 1.13 (Debian) has one pair of calls per device.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define TEDLOC_PER_DEVICE_AUTOCAST 1
#endif

#if TEDLOC_PER_DEVICE_AUTOCAST
void set_autocast(c10::DeviceType t, bool on) { at::autocast::set_autocast_enabled(t, on); }
c10::ScalarType autocast_dtype(c10::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
void set_autocast_dtype(c10::DeviceType t, c10::ScalarType d) { at::autocast::set_autocast_dtype(t, d); }
#else
void set_autocast(c10::DeviceType t, bool on) {
  t == c10::DeviceType::CUDA ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
}
c10::ScalarType autocast_dtype(c10::DeviceType t) {
  return t == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(c10::DeviceType t, c10::ScalarType d) {
  t == c10::DeviceType::CUDA ? at::autocast::set_autocast_gpu_dtype(d) : at::autocast::set_autocast_cpu_dtype(d);
}
#endif

}  // namespace

bool autocast_enabled(c10::DeviceType t) {
#if TEDLOC_PER_DEVICE_AUTOCAST
  return at::autocast::is_autocast_enabled(t);
#else
  return t == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

c10::Device resolve_device(const std::string& requested) {
  if (requested != "cpu" && requested != "cuda" && requested != "auto")
    throw InputError("device \"" + requested + "\": expected cpu, cuda or auto");
  if (requested == "cuda" || (requested == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) throw InputError("device \"cuda\" requested but CUDA is not available");
    return c10::Device(c10::kCUDA);
  }
  return c10::Device(c10::kCPU);
}

PrecisionScope::PrecisionScope(c10::Device device, const std::string& precision) {
  if (precision == "fp32") return;
  if (precision != "bf16") throw InputError("precision \"" + precision + "\": expected fp32 or bf16");
  if (!device.is_cpu() && !device.is_cuda()) throw InputError("bf16 autocast needs a CPU or CUDA device, not " + device.str());
  active_ = true;
  type_ = device.type();
  was_enabled_ = autocast_enabled(type_);
  was_dtype_ = autocast_dtype(type_);
  was_caching_ = at::autocast::is_autocast_cache_enabled();
  set_autocast_dtype(type_, c10::ScalarType::BFloat16);
  set_autocast(type_, true);
  // The cast cache is keyed by tensor and lives until autocast is left: over a whole run it would hand out
  // stale bf16 copies of D and g after each optimizer step. Off, the trainable weights are cast per use.
  at::autocast::set_autocast_cache_enabled(false);
}

PrecisionScope::~PrecisionScope() {
  if (!active_) return;
  set_autocast(type_, was_enabled_);
  set_autocast_dtype(type_, was_dtype_);
  at::autocast::set_autocast_cache_enabled(was_caching_);
}

}  // namespace tedloc
