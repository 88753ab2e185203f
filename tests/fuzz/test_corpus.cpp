// Every file of tests/fuzz/corpus/<target>/ through its fuzz target (targets.hpp): the seeds, and every
// crasher the fuzzers found, stay a clean parse or an InputError in the normal build.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "targets.hpp"

namespace fs = std::filesystem;

TEST(FuzzCorpus, EveryFileParsesOrThrowsInputError) {
  for (const auto& t : tedloc::fuzz::targets()) {
    const fs::path dir = fs::path(TEDLOC_SOURCE_DIR) / "tests/fuzz/corpus" / t.name;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::ostringstream buffer;
      buffer << std::ifstream(entry.path(), std::ios::binary).rdbuf();
      const std::string bytes = buffer.str();
      EXPECT_NO_THROW(t.feed(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())) << entry.path();
      ++files;
    }
    EXPECT_GT(files, 0) << t.name;
  }
}
