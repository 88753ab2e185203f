#include "tedloc/spec.hpp"

#include <fmt/format.h>

#include <set>

#include "tedloc/error.hpp"
#include "tedloc/executor.hpp"
#include "tedloc/host.hpp"
#include "tedloc/util.hpp"

namespace tedloc {
using nlohmann::json;

namespace {

std::string value_text(const json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (v.is_object() && v.contains("plugin") && v["plugin"].is_string()) s = v["plugin"].get<std::string>();
  return s.size() > 32 ? s.substr(0, 29) + "..." : s;
}

}  // namespace

void apply_overrides(Spec& spec, const std::vector<std::string>& overrides) {
  for (const auto& item : overrides) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("--set " + item + ": expected dotted.path=VALUE");
    const std::string value_text = item.substr(eq + 1);
    json value;
    try {
      value = json::parse(value_text);
    } catch (const json::parse_error&) {
      value = value_text;  // a bare word or a path
    } catch (const json::out_of_range&) {
      throw UsageError("--set " + item + ": number out of range");
    }
    set_dotted(spec.base, item.substr(0, eq), value);
    spec.raw["base"] = spec.base;
  }
}

std::string canonical_config(const json& resolved) { return resolved.dump(); }

std::vector<Cell> expand_spec(const Spec& spec, const PluginHost& host) {
  std::vector<Cell> cells;
  std::vector<std::string> errors;
  std::set<std::string> seen_errors;
  std::set<std::string> hashes;

  // Map an error at a config path to where it comes from in the spec file.
  auto locate = [&](const std::string& error, const std::vector<std::size_t>& choice) {
    const auto colon = error.find(": ");
    const std::string path = error.substr(0, colon);
    const std::string reason = colon == std::string::npos ? error : error.substr(colon + 2);
    for (std::size_t a = 0; a < spec.axes.size(); ++a) {
      if (spec.axes[a].path.empty()) {  // a variant: errors under the keys it sets come from it
        const json& variant = spec.axes[a].values[choice[a]];
        const std::string first = path.substr(1, path.find('/', 1) == std::string::npos ? std::string::npos
                                                                                          : path.find('/', 1) - 1);
        if (variant.contains(first)) return fmt::format("{}: /grid//{}{}: {}", spec.file, choice[a], path, reason);
        continue;
      }
      const std::string axis_ptr = json_path("", spec.axes[a].path);
      if (path == axis_ptr || path.rfind(axis_ptr + "/", 0) == 0) {
        return fmt::format("{}: /grid/{}/{}{}: {}", spec.file, spec.axes[a].path, choice[a],
                           path.substr(axis_ptr.size()), reason);
      }
    }
    return fmt::format("{}: /base{}: {}", spec.file, path == "/" ? "" : path, reason);
  };

  std::size_t total = spec.seeds.size();
  for (const auto& axis : spec.axes) total *= axis.values.size();
  std::vector<std::size_t> choice(spec.axes.size(), 0);
  for (std::size_t index = 0; index < total; ++index) {
    // Mixed-radix counter over the axes (last axis fastest), seeds slowest... outermost.
    std::size_t rest = index % (total / spec.seeds.size());
    for (std::size_t a = spec.axes.size(); a-- > 0;) {
      choice[a] = rest % spec.axes[a].values.size();
      rest /= spec.axes[a].values.size();
    }
    const std::int64_t seed = spec.seeds[index / (total / spec.seeds.size())];

    json config = spec.base;
    std::string label;
    for (std::size_t a = 0; a < spec.axes.size(); ++a) {
      const json& value = spec.axes[a].values[choice[a]];
      if (spec.axes[a].path.empty()) {
        json variant = value;
        label += fmt::format("variant={} ", variant["name"].get<std::string>());
        variant.erase("name");
        config.merge_patch(variant);
        continue;
      }
      set_dotted(config, spec.axes[a].path, value);
      label += fmt::format("{}={} ", spec.axes[a].path, value_text(value));
    }
    config["seed"] = seed;
    label += fmt::format("seed={}", seed);

    std::vector<std::string> cell_errors;
    json resolved = host.resolve_config(config, cell_errors);
    for (const auto& e : cell_errors) {
      std::string located = locate(e, choice);
      if (seen_errors.insert(located).second) errors.push_back(located);
    }
    if (!cell_errors.empty()) continue;
    Cell cell;
    cell.index = index;
    cell.label = label;
    cell.resolved = resolved;
    cell.hash = sha256_hex(canonical_config(resolved));
    if (!hashes.insert(cell.hash).second) {
      errors.push_back(fmt::format("{}: cell {} ({}) resolves to the same config as an earlier cell", spec.file,
                                   index, label));
      continue;
    }
    cells.push_back(std::move(cell));
  }
  if (!errors.empty()) {
    std::string text = errors.front();
    constexpr std::size_t kShown = 20;
    for (std::size_t i = 1; i < errors.size() && i < kShown; ++i) text += "\n" + errors[i];
    if (errors.size() > kShown) text += fmt::format("\n... and {} more errors", errors.size() - kShown);
    throw InputError(text);
  }
  return cells;
}

}  // namespace tedloc
