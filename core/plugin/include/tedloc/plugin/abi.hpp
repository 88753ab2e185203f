#pragma once
// The contract between the host and a plugin library. A plugin library is one .so with two C symbols:
//   tedloc_abi_version()          -> kAbiVersion it was built against
//   tedloc_register_plugins(reg)  -> adds its plugins (kind, name, version, parameters, factory)
// Write them with the TEDLOC_PLUGINS macro at the bottom of this header.
#include <boost/config.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "tedloc/params.hpp"

namespace tedloc {

// Bump when anything in the plugin headers changes layout or meaning.
constexpr std::uint32_t kAbiVersion = 2;  // 2: ParamDecl bounds

struct CamSource;
struct AnchorTransform;
struct LossSet;
struct Baseline;
struct Task;

// What a plugin may need to know about the run it is created for.
struct PluginContext {
  c10::Device device = c10::Device(c10::kCPU);
  std::vector<std::string> class_names;  // the dataset's classes, in label order (may be empty)
  at::Tensor class_embeddings;           // [K, d] L2-normalised text embeddings of the classes (before the
                                         // anchor transform), when the task has them
  std::string work_dir;                  // a folder the plugin may write caches into
};

template <class Interface>
using Factory = std::function<std::shared_ptr<Interface>(const Params&, const PluginContext&)>;
using AnyFactory =
    std::variant<Factory<CamSource>, Factory<AnchorTransform>, Factory<LossSet>, Factory<Baseline>, Factory<Task>>;

// What a plugin declares about itself.
struct PluginInfo {
  std::string name;
  std::string version;
  std::string summary;
  std::vector<ParamDecl> params;
};

struct PluginEntry {
  std::string kind;  // Interface::kKind
  PluginInfo info;
  AnyFactory factory;
  std::string file;  // the library it came from ("<builtin>" for the core's own)
};

class PluginRegistrar {
 public:
  virtual ~PluginRegistrar() = default;
  virtual void add_entry(PluginEntry entry) = 0;

  // Registers Impl (constructible from (const Params&, const PluginContext&) or (const Params&))
  // as a plugin of Interface's kind.
  template <class Interface, class Impl>
  void add(PluginInfo info) {
    static_assert(std::is_base_of_v<Interface, Impl>, "Impl must implement Interface");
    Factory<Interface> make = [](const Params& p, const PluginContext& c) -> std::shared_ptr<Interface> {
      if constexpr (std::is_constructible_v<Impl, const Params&, const PluginContext&>) {
        return std::make_shared<Impl>(p, c);
      } else {
        return std::make_shared<Impl>(p);
      }
    };
    add_entry(PluginEntry{Interface::kKind, std::move(info), std::move(make), {}});
  }
};

}  // namespace tedloc

// Defines the two exported symbols; the body registers the library's plugins:
//   TEDLOC_PLUGINS(r) { r.add<tedloc::CamSource, MyCam>({"my_cam", "1.0.0", "what it does", {...params}}); }
#define TEDLOC_PLUGINS(registrar)                                                            \
  extern "C" BOOST_SYMBOL_EXPORT std::uint32_t tedloc_abi_version() { return ::tedloc::kAbiVersion; } \
  extern "C" BOOST_SYMBOL_EXPORT void tedloc_register_plugins(::tedloc::PluginRegistrar& registrar)
