#include "tedloc/params.hpp"

#include <fmt/format.h>

#include "tedloc/error.hpp"

namespace tedloc {

const char* to_string(ParamType type) {
  switch (type) {
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::Bool: return "bool";
    case ParamType::String: return "string";
    case ParamType::IntList: return "int list";
    case ParamType::FloatList: return "float list";
    case ParamType::StringList: return "string list";
    case ParamType::Plugin: return "plugin";
    case ParamType::Json: return "json";
    case ParamType::File: return "file";
    case ParamType::Folder: return "folder";
  }
  return "?";
}

const nlohmann::json* find_dotted(const nlohmann::json& object, const std::string& dotted) {
  const nlohmann::json* node = &object;
  std::size_t start = 0;
  while (true) {
    if (!node->is_object()) return nullptr;
    const std::size_t dot = dotted.find('.', start);
    const std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

void set_dotted(nlohmann::json& object, const std::string& dotted, nlohmann::json value) {
  nlohmann::json* node = &object;
  std::size_t start = 0;
  while (true) {
    if (!node->is_object()) *node = nlohmann::json::object();
    const std::size_t dot = dotted.find('.', start);
    const std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      (*node)[key] = std::move(value);
      return;
    }
    node = &(*node)[key];
    start = dot + 1;
  }
}

std::string json_path(const std::string& base, const std::string& key) {
  std::string out = base;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = key.find('.', start);
    out += "/" + key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

const nlohmann::json& Params::at(const std::string& dotted_name) const {
  if (const nlohmann::json* v = find_dotted(values_, dotted_name)) return *v;
  throw InputError("parameter '" + dotted_name + "' is not set (the plugin did not declare it)");
}

bool Params::has(const std::string& dotted_name) const { return find_dotted(values_, dotted_name) != nullptr; }

std::string ParamDecl::out_of_range(double v) const {
  const bool above_minimum = !minimum || (minimum_exclusive ? v > *minimum : v >= *minimum);  // NaN fails both
  const bool below_maximum = !maximum || v <= *maximum;
  if (above_minimum && below_maximum) return {};
  const auto number = [](double x) { return nlohmann::json(x).dump(); };
  if (minimum && maximum) {
    return fmt::format("must be in {}{}, {}]", minimum_exclusive ? "(" : "[", number(*minimum), number(*maximum));
  }
  if (minimum) return fmt::format("must be {} {}", minimum_exclusive ? ">" : ">=", number(*minimum));
  return fmt::format("must be <= {}", number(*maximum));
}

}  // namespace tedloc
