#pragma once
// JSON from untrusted files with bounded nesting. nlohmann's parser is iterative, but copying, comparing and
// dumping a value recurse once per level: a file of a million '[' parses, then overflows the stack later.
#include <string>

#include <nlohmann/json.hpp>

#include "tedloc/error.hpp"

namespace tedloc {

// Far deeper than any spec, config or safetensors header.
constexpr int kMaxJsonDepth = 64;

// Json::parse(text): throws Json::parse_error for malformed text, and InputError "NAME: JSON nested deeper
// than 64 levels" as soon as the parser enters a 65th level.
template <class Json = nlohmann::json>
Json parse_json_bounded(const std::string& text, const std::string& name) {
  return Json::parse(text, [&name](int depth, typename Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth)
      throw InputError(name + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  });
}

}  // namespace tedloc
