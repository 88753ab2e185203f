// `tedloc clip tokenize` through its command function, with string streams for stdin/stdout.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tedloc/error.hpp"
#include "tedloc/cli/tokenize_command.hpp"
#include "text_test_support.hpp"

namespace tedloc::text {
namespace {

struct CommandResult {
  int code;
  std::string out, err;
};

CommandResult run(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  const int code = tokenize_command(args, in, out, err);
  return {code, out.str(), err.str()};
}

std::vector<nlohmann::json> read_lines_as_json(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(TokenizeCommand, PrintsOneArrayPerStdinLine) {
  TEDLOC_NEED_SHARED("golden/clip");
  // The golden texts without a newline of their own, one per line.
  std::ifstream golden(testing::clip_golden_dir() / "tokenizer.jsonl");
  std::string input;
  std::vector<nlohmann::json> expected;
  for (std::string line; std::getline(golden, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string text = j.at("text");
    if (text.find('\n') != std::string::npos) continue;
    input += text + "\n";
    expected.push_back(j.at("ids"));
  }
  ASSERT_GT(expected.size(), 300u);
  const CommandResult r = run({"--vocab", testing::clip_vocab().string()}, input);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(read_lines_as_json(r.out), expected);
}

TEST(TokenizeCommand, ContextAndNoTruncate) {
  TEDLOC_NEED_SHARED("golden/clip");
  // Two golden texts: "kite (bird of prey)" (8 tokens), "American robin" (4 tokens).
  std::ifstream golden(testing::clip_golden_dir() / "tokenizer.jsonl");
  std::string line;
  std::getline(golden, line);
  const auto robin = nlohmann::json::parse(line);
  std::getline(golden, line);
  const auto kite = nlohmann::json::parse(line);
  ASSERT_EQ(kite.at("n_tokens_untruncated"), 8);
  ASSERT_EQ(robin.at("n_tokens_untruncated"), 4);
  const std::string input = kite.at("text").get<std::string>() + "\n" + robin.at("text").get<std::string>() + "\n";
  std::vector<int> kite_cut(kite.at("ids").begin(), kite.at("ids").begin() + 5);
  kite_cut[4] = 49407;
  std::vector<int> robin_padded(robin.at("ids").begin(), robin.at("ids").begin() + 5);

  const std::string vocab = testing::clip_vocab().string();
  CommandResult r = run({"--vocab", vocab, "--context", "5"}, input);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(read_lines_as_json(r.out), (std::vector<nlohmann::json>{kite_cut, robin_padded}));

  r = run({"--vocab", vocab, "--context", "5", "--no-truncate"}, robin.at("text").get<std::string>() + "\n" + input);
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_EQ(read_lines_as_json(r.out), (std::vector<nlohmann::json>{robin_padded}));  // lines before the bad one
  EXPECT_NE(r.err.find("stdin line 2"), std::string::npos) << r.err;
}

TEST(TokenizeCommand, HelpAndUsageErrors) {
  CommandResult r = run({"--help"}, "");
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("--vocab"), std::string::npos);
  EXPECT_NE(r.out.find("--no-truncate"), std::string::npos);
  EXPECT_EQ(run({}, "x\n").code, kExitUsage);
  EXPECT_EQ(run({"--vocab"}, "x\n").code, kExitUsage);
  EXPECT_EQ(run({"--vocab", "v.gz", "--bogus"}, "x\n").code, kExitUsage);
  EXPECT_EQ(run({"--vocab", "v.gz", "--context", "1"}, "x\n").code, kExitUsage);
  EXPECT_EQ(run({"--vocab", "v.gz", "--context", "many"}, "x\n").code, kExitUsage);
}

TEST(TokenizeCommand, MissingVocabIsBadInput) {
  const CommandResult r = run({"--vocab", "/nonexistent/bpe_simple_vocab_16e6.txt.gz"}, "x\n");
  EXPECT_EQ(r.code, kExitBadInput);
  EXPECT_NE(r.err.find("/nonexistent/bpe_simple_vocab_16e6.txt.gz"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

}  // namespace
}  // namespace tedloc::text
