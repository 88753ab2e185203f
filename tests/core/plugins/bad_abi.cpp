// Claims another plugin ABI version: the host must refuse it.
#include <tedloc/plugin/abi.hpp>

extern "C" BOOST_SYMBOL_EXPORT std::uint32_t tedloc_abi_version() { return tedloc::kAbiVersion + 41; }
extern "C" BOOST_SYMBOL_EXPORT void tedloc_register_plugins(tedloc::PluginRegistrar&) {}
