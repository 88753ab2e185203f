#pragma once
// Paths of the shared WSOL goldens and data (read in place, never copied) and expected.json.
#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace tedloc::eval::testing {

inline std::string shared_dir() { return ::tedloc::testing::shared_dir().string(); }
inline std::string golden_dir() { return shared_dir() + "/golden/wsol"; }

inline const nlohmann::json& expected() {
  static const nlohmann::json j = [] {
    std::ifstream in(golden_dir() + "/expected.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

}  // namespace tedloc::eval::testing
