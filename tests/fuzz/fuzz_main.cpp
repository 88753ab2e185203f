// libFuzzer's entry point for the target named at compile time (TEDLOC_FUZZ_TARGET, see CMakeLists.txt).
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto feed = tedloc::fuzz::target(TEDLOC_FUZZ_TARGET).feed;
  feed(data, size);
  return 0;
}
