#pragma once
// JSON from untrusted files with bounded nesting. nlohmann's parser is iterative, but copying, comparing and
// dumping a value recurse once per level: a file of a million '[' parses, then overflows the stack later.
#include <string>

#include <nlohmann/json.hpp>

#include "tedloc/error.hpp"

namespace tedloc {

// Far deeper than any spec, config or safetensors header.
constexpr int kMaxJsonDepth = 64;

// Json::parse(text): throws Json::parse_error for malformed text (its byte tells where), and InputError
// "NAME: JSON nested deeper than 64 levels" as soon as the parser enters a 65th level, or "NAME: malformed
// JSON: number overflow parsing '1e999'" for a number beyond double (which nlohmann throws as out_of_range).
template <class Json = nlohmann::json>
Json parse_json_bounded(const std::string& text, const std::string& name) {
  try {
    return Json::parse(text, [&name](int depth, typename Json::parse_event_t, Json&) {
      if (depth > kMaxJsonDepth)
        throw InputError(name + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      return true;
    });
  } catch (const typename Json::out_of_range& e) {
    std::string reason = e.what();  // "[json.exception.out_of_range.406] number overflow parsing '1e999'"
    if (const auto p = reason.find("] "); p != std::string::npos) reason = reason.substr(p + 2);
    throw InputError(name + ": malformed JSON: " + reason);
  }
}

}  // namespace tedloc
