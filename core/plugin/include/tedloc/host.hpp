#pragma once
// The plugin host: loads plugin libraries (Boost.DLL), keeps their entries by kind and name,
// validates configs against the declared parameters, and instantiates plugins.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tedloc/error.hpp"
#include "tedloc/plugin/abi.hpp"
#include "tedloc/plugin/task.hpp"

namespace tedloc {

class PluginHost {
 public:
  // Registers the plugins `builtins` adds (the workbench's tasks: register_builtin_plugins, tasks.hpp);
  // loads nothing from disk. The host itself knows no task: it sits below them.
  explicit PluginHost(const std::function<void(PluginRegistrar&)>& builtins = nullptr);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Loads one library. A refused library (cannot be opened, wrong ABI, missing symbol, duplicate name)
  // adds one line naming the file to errors() and nothing else; returns whether it was accepted.
  bool load(const std::filesystem::path& file);
  // Loads every *.so in `dir` (not recursive), in name order.
  void scan(const std::filesystem::path& dir);
  // The default folders: the build tree's or the installation's plugin folder next to the running
  // executable, then each folder of $TEDLOC_PLUGIN_PATH (colon-separated).
  static std::vector<std::filesystem::path> default_dirs();

  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<PluginEntry>& entries() const { return entries_; }
  const PluginEntry* find(const std::string& kind, const std::string& name) const;
  // Throws InputError "unknown KIND plugin 'NAME' (known: ...)".
  const PluginEntry& require(const std::string& kind, const std::string& name) const;

  // Creates plugin NAME of Interface's kind from already resolved parameters (see resolve_config).
  // The library stays loaded as long as the returned object lives.
  template <class Interface>
  std::shared_ptr<Interface> make(const std::string& name, const nlohmann::json& resolved_params,
                                  const PluginContext& context) const {
    const PluginEntry& entry = require(Interface::kKind, name);
    std::shared_ptr<Interface> object = std::get<Factory<Interface>>(entry.factory)(Params(resolved_params), context);
    return keep_library_alive(object, entry.file);
  }

  // Validation. Each error is one line "JSON-PATH: reason"; `path` is the JSON pointer of `value`.
  // Returns the value with every default filled in. A non-empty File parameter adds {its JSON path:
  // "sha256:HEX"} to `*input_files` when given; a missing file is an error then.
  nlohmann::json resolve_params(const std::vector<ParamDecl>& decls, const nlohmann::json& value,
                                const std::string& path, std::vector<std::string>& errors,
                                nlohmann::json* input_files = nullptr) const;
  // A Plugin-typed value: "NAME" or {"plugin": NAME, "params": {...}} -> {"plugin": NAME, "params": resolved}.
  nlohmann::json resolve_plugin_ref(const std::string& kind, const nlohmann::json& value, const std::string& path,
                                    std::vector<std::string>& errors, nlohmann::json* input_files = nullptr) const;
  // A cell config {"task": NAME, "seed", "device", "threads", ...task params} -> fully resolved config, with
  // "input_files" (see resolve_params) when any File parameter is set.
  nlohmann::json resolve_config(const nlohmann::json& config, std::vector<std::string>& errors) const;

 private:
  struct Library;
  template <class Interface>
  std::shared_ptr<Interface> keep_library_alive(std::shared_ptr<Interface> object, const std::string& file) const {
    auto library = library_handle(file);
    if (!library) return object;
    return std::shared_ptr<Interface>(object.get(), [object, library](Interface*) mutable {
      object.reset();  // destroy the plugin object before its code may be unloaded
      library.reset();
    });
  }
  std::shared_ptr<void> library_handle(const std::string& file) const;

  std::vector<PluginEntry> entries_;
  std::vector<std::string> errors_;
  std::map<std::string, std::shared_ptr<void>> libraries_;  // file -> boost::dll::shared_library
};

template <class Interface>
std::shared_ptr<Interface> RunContext::make(const std::string& param) const {
  const nlohmann::json& ref = params.at(param);
  return host->make<Interface>(ref.at("plugin").get<std::string>(), ref.at("params"), plugin);
}

}  // namespace tedloc
