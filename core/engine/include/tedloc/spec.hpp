#pragma once
// Experiment specs: a base config, grid axes (dotted paths -> lists of values) and seeds. Their
// cartesian product gives the cells; each cell's config is resolved (defaults filled), canonicalised
// and hashed, so the same run is never done twice.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tedloc {

class PluginHost;

// An axis: a dotted path and its values; the path "" takes whole variants, objects {"name": N, ...keys}
// merged into the base config (JSON merge patch), for cells that differ in more than one key (e.g. task).
struct Axis {
  std::string path;                  // dotted path into the config, e.g. "loss.plugin"
  std::vector<nlohmann::json> values;
};

struct Spec {
  std::string file;         // where it was read from (for error messages)
  std::string experiment;   // the experiment's name in the store
  std::string description;
  nlohmann::json base = nlohmann::json::object();
  std::vector<Axis> axes;   // in file order; the last axis varies fastest
  std::vector<std::int64_t> seeds;
  nlohmann::json raw;       // the file's JSON as read
  // Executor settings blocks by executor name, e.g. "slurm": {"partition": "gpu"} (checked by the executor).
  std::map<std::string, nlohmann::json> executor_settings;
};

struct Cell {
  std::size_t index = 0;
  std::string label;        // "loss.plugin=kd seed=1"
  nlohmann::json resolved;  // every default filled in
  std::string hash;         // sha256 of resolved.dump()
};

// Reads and checks a spec's structure. Throws InputError "FILE:LINE:COLUMN: ..." for malformed JSON and
// "FILE: /json/path: reason" for a wrong structure.
Spec load_spec(const std::string& file);
Spec parse_spec(const std::string& text, const std::string& file);

// Applies "dotted.path=VALUE" overrides to the base config (VALUE is JSON, or else a plain string), e.g.
// --set data.images=/data/CUB/images. Throws UsageError for an item without '='.
void apply_overrides(Spec& spec, const std::vector<std::string>& overrides);

// The cells of a spec, each validated against the plugins' declared parameters. Every error of every
// cell is reported at once (deduplicated), as "FILE: /base/...: reason" or "FILE: /grid/AXIS/I/...: reason".
std::vector<Cell> expand_spec(const Spec& spec, const PluginHost& host);

// Canonical text of a resolved config (sorted keys, shortest round-trip numbers) and its hash.
std::string canonical_config(const nlohmann::json& resolved);

}  // namespace tedloc
