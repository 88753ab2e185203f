#pragma once
// Declared parameters of plugins and tasks, and the resolved values a plugin receives.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tedloc {

// File: a path (a string) to an input file, e.g. weights. The SHA-256 of its content joins the run's resolved
// config (under "input_files"), so that a changed file makes a new run instead of reusing the old one's results.
// File and Folder are inputs: their content enters a run's identity (a folder's through its manifest).
enum class ParamType { Int, Float, Bool, String, IntList, FloatList, StringList, Plugin, Json, File, Folder };

const char* to_string(ParamType type);

// One parameter as a plugin declares it. `name` may be dotted ("train.lr" is {"train": {"lr": ...}}).
// A Plugin-typed parameter takes {"plugin": NAME, "params": {...}} (or just "NAME") of kind `plugin_kind`.
struct ParamDecl {
  std::string name;
  ParamType type = ParamType::Float;
  nlohmann::json default_value;      // used when the config omits the parameter
  std::string help;
  bool required = false;             // no default: the config must give it
  std::vector<std::string> choices;  // allowed values of a String parameter (empty: any)
  std::string plugin_kind;           // for ParamType::Plugin
  // Bounds of a number (Int, Float, and each element of IntList, FloatList), checked before any run starts.
  std::optional<double> minimum, maximum;  // inclusive
  bool minimum_exclusive = false;          // the value must be > minimum (e.g. a learning rate)

  ParamDecl& at_least(double v) { minimum = v; return *this; }
  ParamDecl& above(double v) { minimum = v; minimum_exclusive = true; return *this; }
  ParamDecl& at_most(double v) { maximum = v; return *this; }
  ParamDecl& within(double lo, double hi) { return at_least(lo).at_most(hi); }
  bool has_range() const { return minimum || maximum; }
  // Empty when `v` is within the bounds, else why not ("must be >= 1").
  std::string out_of_range(double v) const;
};

// The resolved parameters a plugin is constructed with: every declared parameter present,
// defaults filled in, types checked. Access by (dotted) name.
class Params {
 public:
  Params() = default;
  explicit Params(nlohmann::json resolved) : values_(std::move(resolved)) {}

  const nlohmann::json& at(const std::string& dotted_name) const;
  template <class T>
  T get(const std::string& dotted_name) const { return at(dotted_name).get<T>(); }
  bool has(const std::string& dotted_name) const;
  const nlohmann::json& json() const { return values_; }

 private:
  nlohmann::json values_ = nlohmann::json::object();
};

// Reads or writes a dotted path inside a JSON object ("a.b.c"), creating objects on the way when writing.
const nlohmann::json* find_dotted(const nlohmann::json& object, const std::string& dotted);
void set_dotted(nlohmann::json& object, const std::string& dotted, nlohmann::json value);

// "/a/b/0" style JSON pointer text for a dotted path under `base`.
std::string json_path(const std::string& base, const std::string& key);

}  // namespace tedloc
