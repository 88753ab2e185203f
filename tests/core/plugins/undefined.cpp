// Uses a function that no library defines: dlopen must fail and the host must say so, naming the file.
#include <tedloc/plugin/abi.hpp>

extern "C" int tedloc_test_symbol_nobody_defines();

extern "C" BOOST_SYMBOL_EXPORT std::uint32_t tedloc_abi_version() {
  return static_cast<std::uint32_t>(tedloc_test_symbol_nobody_defines());
}
extern "C" BOOST_SYMBOL_EXPORT void tedloc_register_plugins(tedloc::PluginRegistrar&) {}
