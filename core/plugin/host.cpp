#include "tedloc/host.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <boost/dll/shared_library.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

#include "tedloc/error.hpp"
#include "tedloc/util.hpp"

namespace tedloc {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kBuiltin = "<builtin>";

class CollectingRegistrar final : public PluginRegistrar {
 public:
  explicit CollectingRegistrar(std::string file) : file_(std::move(file)) {}
  void add_entry(PluginEntry entry) override {
    entry.file = file_;
    entries.push_back(std::move(entry));
  }
  std::vector<PluginEntry> entries;

 private:
  std::string file_;
};

// A short description of a JSON value for error messages: `string "abc"`, `number 0.5`, `object`.
std::string describe(const json& v) {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  switch (v.type()) {
    case json::value_t::string: return "string " + text;
    case json::value_t::boolean: return "bool " + text;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "int " + text;
    case json::value_t::number_float: return "float " + text;
    case json::value_t::array: return "list " + text;
    case json::value_t::object: return "object";
    case json::value_t::null: return "null";
    default: return text;
  }
}

// "sha256:HEX" of the file's content. A missing file is an InputError here, at validation, so that a grid
// reports it once instead of as one failed run per cell. Cached by path, size and modification time: a grid's
// cells mostly share their weight files.
std::string file_fingerprint(const std::string& path) {
  std::error_code ec;
  const auto missing = [&] {
    return InputError("no such file '" + path + "'" +
                      (fs::path(path).is_relative() ? " (relative to " + fs::current_path(ec).string() + ")" : ""));
  };
  if (!fs::is_regular_file(path, ec)) throw missing();
  const auto size = fs::file_size(path, ec);
  if (ec) throw missing();  // checked after each call: a later success clears ec
  const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  if (ec) throw missing();
  static std::mutex mutex;
  static std::map<std::tuple<std::string, std::uintmax_t, long long>, std::string> cache;
  const auto key = std::make_tuple(path, size, static_cast<long long>(mtime));
  {
    const std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  if (size > (std::uintmax_t{256} << 20))  // about 1.5 s per 256 MiB: say why the start pauses
    std::fprintf(stderr, "hashing %s (%.0f MiB) for the runs' identity\n", path.c_str(), size / 1048576.0);
  std::string fingerprint = "sha256:" + file_sha256_hex(path);
  const std::lock_guard<std::mutex> lock(mutex);
  return cache[key] = std::move(fingerprint);
}

// "manifest:HEX": the sha256 of the folder's manifest, one line "relative path<TAB>sha256:HEX of its content" per
// regular file below it, sorted, so that a dataset enters a run's identity by its metadata and its images (a
// changed, added, removed or renamed file makes another run). Each file's hash is file_fingerprint's, cached.
std::string folder_fingerprint(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    throw InputError("no such folder '" + path + "'" +
                     (fs::path(path).is_relative() ? " (relative to " + fs::current_path(ec).string() + ")" : ""));
  }
  std::vector<std::pair<std::string, std::uintmax_t>> files;
  std::uintmax_t bytes = 0;
  for (fs::recursive_directory_iterator it(path, fs::directory_options::follow_directory_symlink, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::uintmax_t size = it->file_size(ec);
    files.emplace_back(fs::relative(it->path(), path, ec).generic_string(), size);
    bytes += size;
  }
  if (ec) throw InputError(path + ": cannot list the folder (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  if (bytes > (std::uintmax_t{256} << 20))  // the first time in this process; then cached per file
    std::fprintf(stderr, "reading %zu files (%.0f MiB) under %s for the runs' identity\n", files.size(),
                 bytes / 1048576.0, path.c_str());
  std::string manifest;
  for (const auto& [relative, size] : files)
    manifest += relative + "\t" + file_fingerprint((fs::path(path) / relative).string()) + "\n";
  return "manifest:" + sha256_hex(manifest);
}

bool element_ok(ParamType list_type, const json& e) {
  switch (list_type) {
    case ParamType::IntList: return e.is_number_integer();
    case ParamType::FloatList: return e.is_number();
    case ParamType::StringList: return e.is_string();
    default: return false;
  }
}

}  // namespace

struct PluginHost::Library {
  boost::dll::shared_library library;
};

PluginHost::PluginHost(const std::function<void(PluginRegistrar&)>& builtins) {
  if (!builtins) return;
  CollectingRegistrar registrar(kBuiltin);
  builtins(registrar);
  for (auto& e : registrar.entries) entries_.push_back(std::move(e));
}

PluginHost::~PluginHost() {
  entries_.clear();  // factories live in the libraries' code: drop them before unloading
  libraries_.clear();
}

bool PluginHost::load(const fs::path& file) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(file, ec);
  const std::string name = (ec ? file : canonical).string();
  if (libraries_.count(name)) return true;  // the same file reached through two folders
  auto refuse = [&](const std::string& reason) {
    errors_.push_back(name + ": " + reason);
    return false;
  };

  auto library = std::make_shared<Library>();
  try {
    library->library.load(name, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    const char* dl = dlerror();
    return refuse(std::string("cannot be loaded: ") + (dl ? dl : e.what()));
  }
  if (!library->library.has("tedloc_abi_version")) {
    return refuse("not a tedloc plugin: missing symbol tedloc_abi_version");
  }
  if (!library->library.has("tedloc_register_plugins")) {
    return refuse("not a tedloc plugin: missing symbol tedloc_register_plugins");
  }
  const std::uint32_t abi = library->library.get<std::uint32_t()>("tedloc_abi_version")();
  if (abi != kAbiVersion) {
    return refuse(fmt::format("built for plugin ABI version {}, this tedloc has version {}: rebuild it against "
                              "this tedloc",
                              abi, kAbiVersion));
  }

  CollectingRegistrar registrar(name);
  try {
    library->library.get<void(PluginRegistrar&)>("tedloc_register_plugins")(registrar);
  } catch (const std::exception& e) {
    return refuse(std::string("tedloc_register_plugins threw: ") + e.what());
  }
  if (registrar.entries.empty()) return refuse("registers no plugin");
  for (std::size_t i = 0; i < registrar.entries.size(); ++i) {
    const PluginEntry& e = registrar.entries[i];
    if (e.info.name.empty()) return refuse("registers a " + e.kind + " plugin with an empty name");
    if (const PluginEntry* other = find(e.kind, e.info.name)) {
      return refuse(fmt::format("duplicate {} plugin '{}' (already provided by {})", e.kind, e.info.name, other->file));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (registrar.entries[j].kind == e.kind && registrar.entries[j].info.name == e.info.name) {
        return refuse(fmt::format("registers {} plugin '{}' twice", e.kind, e.info.name));
      }
    }
  }
  for (auto& e : registrar.entries) entries_.push_back(std::move(e));
  libraries_[name] = library;
  return true;
}

void PluginHost::scan(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    if (item.is_regular_file() && item.path().extension() == ".so") files.push_back(item.path());
  }
  if (ec) {
    errors_.push_back(dir.string() + ": cannot read plugin folder: " + ec.message());
    return;
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) load(f);
}

std::vector<fs::path> PluginHost::default_dirs() {
  std::vector<fs::path> dirs;
  // Where libtedloc.so itself lives: <prefix>/lib -> <prefix>/lib/tedloc/plugins (installed), or
  // <build>/core -> <build>/plugins (build tree).
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&PluginHost::default_dirs), &info) && info.dli_fname) {
    std::error_code ec;
    const fs::path libdir = fs::weakly_canonical(fs::path(info.dli_fname), ec).parent_path();
    for (const fs::path& candidate : {libdir / "tedloc" / "plugins", libdir.parent_path() / "plugins"}) {
      if (fs::is_directory(candidate, ec)) {
        dirs.push_back(candidate);
        break;
      }
    }
  }
  if (const char* env = std::getenv("TEDLOC_PLUGIN_PATH")) {
    std::stringstream stream(env);
    std::string item;
    while (std::getline(stream, item, ':')) {
      if (!item.empty()) dirs.emplace_back(item);
    }
  }
  return dirs;
}

const PluginEntry* PluginHost::find(const std::string& kind, const std::string& name) const {
  for (const auto& e : entries_) {
    if (e.kind == kind && e.info.name == name) return &e;
  }
  return nullptr;
}

const PluginEntry& PluginHost::require(const std::string& kind, const std::string& name) const {
  if (const PluginEntry* e = find(kind, name)) return *e;
  std::vector<std::string> known;
  for (const auto& e : entries_) {
    if (e.kind == kind) known.push_back(e.info.name);
  }
  throw InputError(fmt::format("unknown {} plugin '{}'{}", kind, name, suggest(name, known)));
}

std::shared_ptr<void> PluginHost::library_handle(const std::string& file) const {
  auto it = libraries_.find(file);
  return it == libraries_.end() ? nullptr : it->second;
}

json PluginHost::resolve_params(const std::vector<ParamDecl>& decls, const json& value, const std::string& path,
                                std::vector<std::string>& errors, json* input_files) const {
  json out = json::object();
  const json given = value.is_null() ? json::object() : value;
  if (!given.is_object()) {
    errors.push_back(fmt::format("{}: expected an object of parameters, got {}", path.empty() ? "/" : path,
                                 describe(given)));
    return out;
  }
  std::vector<std::string> known;
  for (const auto& d : decls) known.push_back(d.name);

  auto check = [&](const ParamDecl& d, const json& v, const std::string& p) -> json {
    auto wrong = [&](const std::string& expected) {
      errors.push_back(fmt::format("{}: expected {}, got {}", p, expected, describe(v)));
      return v;
    };
    if (v.is_null() && !d.required && d.default_value.is_null()) return v;  // an optional "none"
    auto bounded = [&](const json& number, const std::string& where) {
      const std::string why = d.out_of_range(number.get<double>());
      if (!why.empty()) errors.push_back(fmt::format("{}: {} {}", where, number.dump(), why));
      return number;
    };
    switch (d.type) {
      case ParamType::Int: return v.is_number_integer() ? bounded(v, p) : wrong("an int");
      case ParamType::Float: return v.is_number() ? bounded(json(v.get<double>()), p) : wrong("a number");  // 1 and 1.0 hash alike
      case ParamType::Bool: return v.is_boolean() ? v : wrong("true or false");
      case ParamType::String:
        if (!v.is_string()) return wrong("a string");
        if (!d.choices.empty() &&
            std::find(d.choices.begin(), d.choices.end(), v.get<std::string>()) == d.choices.end()) {
          std::string list;
          for (const auto& c : d.choices) list += (list.empty() ? "" : ", ") + c;
          return wrong("one of " + list);
        }
        return v;
      case ParamType::IntList:
      case ParamType::FloatList:
      case ParamType::StringList:
        if (!v.is_array()) return wrong(std::string("a ") + to_string(d.type));
      {
        json list = json::array();
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (!element_ok(d.type, v[i])) {
            errors.push_back(fmt::format("{}/{}: expected an element of a {}, got {}", p, i, to_string(d.type),
                                         describe(v[i])));
          } else if (d.type != ParamType::StringList) {
            bounded(v[i], fmt::format("{}/{}", p, i));
          }
          list.push_back(d.type == ParamType::FloatList && v[i].is_number() ? json(v[i].get<double>()) : v[i]);
        }
        return list;
      }
      case ParamType::Plugin: return resolve_plugin_ref(d.plugin_kind, v, p, errors, input_files);
      case ParamType::Json: return v;
      case ParamType::File: return v.is_string() ? v : wrong("a file path");
      case ParamType::Folder: return v.is_string() ? v : wrong("a folder path");
    }
    return v;
  };

  // Walk the given object; a key is a declared parameter, or a prefix of dotted ones.
  std::function<void(const json&, const std::string&)> visit = [&](const json& node, const std::string& prefix) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string name = prefix.empty() ? it.key() : prefix + "." + it.key();
      auto decl = std::find_if(decls.begin(), decls.end(), [&](const ParamDecl& d) { return d.name == name; });
      if (decl != decls.end()) {
        set_dotted(out, name, check(*decl, it.value(), json_path(path, name)));
        continue;
      }
      const bool is_prefix = std::any_of(decls.begin(), decls.end(), [&](const ParamDecl& d) {
        return d.name.rfind(name + ".", 0) == 0;
      });
      if (is_prefix && it.value().is_object()) {
        visit(it.value(), name);
      } else if (is_prefix) {
        errors.push_back(fmt::format("{}: expected an object, got {}", json_path(path, name), describe(it.value())));
      } else {
        errors.push_back(fmt::format("{}: unknown parameter '{}'{}", json_path(path, name), name, suggest(name, known)));
      }
    }
  };
  visit(given, "");

  for (const auto& d : decls) {
    if (find_dotted(out, d.name)) continue;
    if (d.required) {
      errors.push_back(fmt::format("{}: missing required parameter ({}: {})", json_path(path, d.name),
                                   to_string(d.type), d.help));
    } else if (d.type == ParamType::Plugin && !d.default_value.is_null()) {
      set_dotted(out, d.name,
                 resolve_plugin_ref(d.plugin_kind, d.default_value, json_path(path, d.name), errors, input_files));
    } else {
      set_dotted(out, d.name, d.default_value);
    }
  }
  // Input files and folders, given or by default, once every value is known.
  for (const auto& d : decls) {
    const bool input = d.type == ParamType::File || d.type == ParamType::Folder;
    const json* file = input && input_files ? find_dotted(out, d.name) : nullptr;
    if (!file || !file->is_string() || file->get<std::string>().empty()) continue;
    const std::string p = json_path(path, d.name);
    try {
      (*input_files)[p] = d.type == ParamType::File ? file_fingerprint(file->get<std::string>())
                                                    : folder_fingerprint(file->get<std::string>());
    } catch (const InputError& e) {
      errors.push_back(fmt::format("{}: {}", p, e.what()));
    }
  }
  return out;
}

json PluginHost::resolve_plugin_ref(const std::string& kind, const json& value, const std::string& path,
                                    std::vector<std::string>& errors, json* input_files) const {
  json given = value.is_string() ? json{{"plugin", value}} : value;
  if (!given.is_object() || !given.contains("plugin") || !given["plugin"].is_string()) {
    errors.push_back(fmt::format("{}: expected a {} plugin: \"NAME\" or {{\"plugin\": NAME, \"params\": {{...}}}}, got {}",
                                 path, kind, describe(value)));
    return value;
  }
  for (auto it = given.begin(); it != given.end(); ++it) {
    if (it.key() != "plugin" && it.key() != "params") {
      errors.push_back(fmt::format("{}/{}: unexpected key next to \"plugin\" (parameters go under \"params\")", path,
                                   it.key()));
    }
  }
  const std::string name = given["plugin"].get<std::string>();
  const PluginEntry* entry = nullptr;
  try {
    entry = &require(kind, name);
  } catch (const InputError& e) {
    errors.push_back(path + "/plugin: " + e.what());
    return given;
  }
  const json params = given.contains("params") ? given["params"] : json::object();
  return json{{"plugin", name},
              {"params", resolve_params(entry->info.params, params, path + "/params", errors, input_files)}};
}

json PluginHost::resolve_config(const json& config, std::vector<std::string>& errors) const {
  if (!config.is_object()) {
    errors.push_back("/: a run config must be an object, got " + describe(config));
    return config;
  }
  json out = json::object();
  json rest = config;
  if (!config.contains("task") || !config["task"].is_string()) {
    errors.push_back("/task: missing: the config must name its task (e.g. \"task\": \"tedloc\")");
    return config;
  }
  const std::string task = config["task"].get<std::string>();
  const PluginEntry* entry = nullptr;
  try {
    entry = &require(Task::kKind, task);
  } catch (const InputError& e) {
    errors.push_back(std::string("/task: ") + e.what());
    return config;
  }
  // The keys every task has; the rest are the task's own parameters.
  static const std::vector<ParamDecl> common = {
      {"task", ParamType::String, nullptr, "the task", true},
      ParamDecl{"seed", ParamType::Int, 0, "random seed of the run"}.at_least(0),
      {"device", ParamType::String, "auto", "cpu, cuda or auto (cuda when available)", false, {"cpu", "cuda", "auto"}},
      ParamDecl{"threads", ParamType::Int, 0, "intra-op threads (0: all cores)"}.within(0, 1024),
      {"precision", ParamType::String, "fp32", "fp32, or bf16 (autocast: matrix products and convolutions in bfloat16)",
       false, {"fp32", "bf16"}},
  };
  json common_part = json::object();
  for (const auto& d : common) {
    if (rest.contains(d.name)) {
      common_part[d.name] = rest[d.name];
      rest.erase(d.name);
    }
  }
  out = resolve_params(common, common_part, "", errors);
  json input_files = json::object();
  json params = resolve_params(entry->info.params, rest, "", errors, &input_files);
  for (auto it = params.begin(); it != params.end(); ++it) out[it.key()] = it.value();
  if (!input_files.empty()) out["input_files"] = input_files;
  return out;
}

}  // namespace tedloc
