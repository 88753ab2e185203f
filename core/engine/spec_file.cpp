// Reading a spec file: its JSON and its structure (spec.hpp). Torch-free, unlike the rest of the engine,
// so that the fuzz build (tests/fuzz) compiles it alone (with no executor registered there: a settings block
// such as "slurm" is then an unknown key).
#include "tedloc/spec.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "tedloc/error.hpp"
#include "tedloc/executor.hpp"
#include "tedloc/json_parse.hpp"
#include "tedloc/util.hpp"

namespace tedloc {
using nlohmann::json;

namespace {

// 1-based line and column of byte `offset` in `text`.
std::pair<std::size_t, std::size_t> line_column(const std::string& text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

}  // namespace

Spec load_spec(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file + ": cannot read the spec file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_spec(buffer.str(), file);
}

Spec parse_spec(const std::string& text, const std::string& file) {
  Spec spec;
  spec.file = file;
  try {
    spec.raw = parse_json_bounded(text, file);
  } catch (const json::parse_error& e) {
    // e.byte is one past the offending character.
    const auto [line, column] = line_column(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string reason = e.what();
    if (auto p = reason.find("syntax error while parsing"); p != std::string::npos) reason = reason.substr(p);
    throw InputError(fmt::format("{}:{}:{}: malformed JSON: {}", file, line, column, reason));
  }
  auto fail = [&](const std::string& path, const std::string& reason) {
    throw InputError(fmt::format("{}: {}: {}", file, path, reason));
  };
  if (!spec.raw.is_object()) fail("/", "a spec must be an object with \"experiment\", \"base\", \"grid\", \"seeds\"");
  for (auto it = spec.raw.begin(); it != spec.raw.end(); ++it) {
    static const std::vector<std::string> keys = {"experiment", "description", "base", "grid", "seeds"};
    if (std::find(keys.begin(), keys.end(), it.key()) != keys.end()) continue;
    // An executor's settings block, e.g. "slurm": {...}, checked by that executor.
    if (const Executor* executor = find_executor(it.key()); executor && executor->check_settings) {
      executor->check_settings(it.value(), fmt::format("{}: /{}", file, it.key()));
      spec.executor_settings[it.key()] = it.value();
      continue;
    }
    std::vector<std::string> known = keys;
    for (const auto& name : executor_names()) {
      if (find_executor(name)->check_settings) known.push_back(name);
    }
    fail("/" + it.key(), "unknown key" + suggest(it.key(), known) +
                             " (a spec has experiment, description, base, grid, seeds, and executor settings)");
  }
  if (!spec.raw.contains("experiment") || !spec.raw["experiment"].is_string() ||
      spec.raw["experiment"].get<std::string>().empty()) {
    fail("/experiment", "missing: every spec names its experiment (a non-empty string)");
  }
  spec.experiment = spec.raw["experiment"].get<std::string>();
  if (spec.raw.contains("description")) {
    if (!spec.raw["description"].is_string()) fail("/description", "expected a string");
    spec.description = spec.raw["description"].get<std::string>();
  }
  if (spec.raw.contains("base")) {
    if (!spec.raw["base"].is_object()) fail("/base", "expected an object (the config every cell starts from)");
    spec.base = spec.raw["base"];
  }
  if (spec.raw.contains("grid")) {
    const json& grid = spec.raw["grid"];
    if (!grid.is_object()) fail("/grid", "expected an object of axes: {\"dotted.path\": [values...]}");
    // Axes keep the file's order (the last one varies fastest): read their names order-preserving.
    const auto ordered = nlohmann::ordered_json::parse(text)["grid"];
    for (auto item = ordered.begin(); item != ordered.end(); ++item) {
      const auto it = grid.find(item.key());
      const std::string path = "/grid/" + it.key();
      if (!it.key().empty() && (it.key().front() == '.' || it.key().back() == '.' ||
                                it.key().find("..") != std::string::npos)) {
        fail(path, "an axis is a dotted path into the config, e.g. \"train.lr\" (or \"\" for whole variants)");
      }
      if (it.key() == "seed") fail(path, "seeds go in \"seeds\", not in the grid");
      if (!it.value().is_array()) fail(path, "expected a list of values");
      if (it.value().empty()) fail(path, "empty axis: it would give no cell at all");
      if (it.key().empty()) {
        for (std::size_t i = 0; i < it.value().size(); ++i) {
          const json& v = it.value()[i];
          if (!v.is_object() || !v.contains("name") || !v["name"].is_string()) {
            fail(fmt::format("{}/{}", path, i), "a variant of the \"\" axis is an object with a \"name\" and the "
                                               "config keys it sets");
          }
        }
      }
      spec.axes.push_back({it.key(), it.value().get<std::vector<json>>()});
    }
  }
  if (spec.raw.contains("seeds")) {
    const json& seeds = spec.raw["seeds"];
    if (!seeds.is_array() || seeds.empty()) fail("/seeds", "expected a non-empty list of integers");
    std::set<std::int64_t> seen;
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      if (!seeds[i].is_number_integer()) fail(fmt::format("/seeds/{}", i), "expected an integer");
      if (!seen.insert(seeds[i].get<std::int64_t>()).second) fail(fmt::format("/seeds/{}", i), "duplicate seed");
      spec.seeds.push_back(seeds[i].get<std::int64_t>());
    }
  } else {
    spec.seeds.push_back(spec.base.value("seed", json(0)).is_number_integer() ? spec.base.value("seed", 0) : 0);
  }
  return spec;
}

}  // namespace tedloc
