// Has the ABI symbol but not the registration function: the host must refuse it.
#include <tedloc/plugin/abi.hpp>

extern "C" BOOST_SYMBOL_EXPORT std::uint32_t tedloc_abi_version() { return tedloc::kAbiVersion; }
