// CLIP's tokenizer against the reference's outputs (golden/clip/tokenizer.jsonl) and on bad vocab files.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tedloc/error.hpp"
#include "tedloc/text/clip_tokenizer.hpp"
#include "text_test_support.hpp"

namespace tedloc::text {
namespace {

using testing::clip_golden_dir;
using testing::clip_vocab;
using testing::ScratchFile;

struct GoldenCase {
  int line = 0;
  std::string text, category;
  std::vector<int> ids;
  int n_tokens_untruncated = 0;
};

std::vector<GoldenCase> read_golden_cases() {
  std::ifstream in(clip_golden_dir() / "tokenizer.jsonl");
  std::vector<GoldenCase> cases;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    cases.push_back({++line_number, j.at("text"), j.at("category"), j.at("ids").get<std::vector<int>>(),
                     j.at("n_tokens_untruncated")});
  }
  return cases;
}

class ClipTokenizerGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!::tedloc::testing::missing_shared("golden/clip").empty()) return;  // SetUp skips each test
    tokenizer_ = new ClipTokenizer(clip_vocab());
    cases_ = new std::vector<GoldenCase>(read_golden_cases());
  }
  void SetUp() override { TEDLOC_NEED_SHARED("golden/clip"); }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete cases_;
  }
  static const ClipTokenizer* tokenizer_;
  static const std::vector<GoldenCase>* cases_;
};
const ClipTokenizer* ClipTokenizerGolden::tokenizer_ = nullptr;
const std::vector<GoldenCase>* ClipTokenizerGolden::cases_ = nullptr;

std::string describe(const GoldenCase& c) {
  return "tokenizer.jsonl line " + std::to_string(c.line) + " [" + c.category + "] " + nlohmann::json(c.text).dump();
}

TEST_F(ClipTokenizerGolden, EveryLineMatchesTheReference) {
  ASSERT_EQ(cases_->size(), 331u) << "the golden file changed";
  int mismatches = 0;
  for (const GoldenCase& c : *cases_) {
    const std::vector<int> ids = tokenizer_->tokenize(c.text);
    const int untruncated = static_cast<int>(tokenizer_->encode(c.text).size()) + 2;
    if (ids != c.ids || untruncated != c.n_tokens_untruncated) {
      ++mismatches;
      ADD_FAILURE() << describe(c) << ": got " << nlohmann::json(ids).dump() << " (" << untruncated
                    << " untruncated), expected " << nlohmann::json(c.ids).dump() << " (" << c.n_tokens_untruncated
                    << ")";
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(ClipTokenizerGolden, OtherContextLengthsCutAndPadLikeTheReference) {
  for (const GoldenCase& c : *cases_) {
    if (c.n_tokens_untruncated > 77) continue;
    const int n = c.n_tokens_untruncated;
    // Room to spare: the golden sequence, padded further.
    std::vector<int> longer = c.ids;
    longer.resize(90, 0);
    EXPECT_EQ(tokenizer_->tokenize(c.text, 90, false), longer) << describe(c);
    // Cut: the first context-1 ids, then the end token.
    if (n > 4) {
      std::vector<int> cut(c.ids.begin(), c.ids.begin() + 4);
      cut[3] = kClipEndOfText;
      EXPECT_EQ(tokenizer_->tokenize(c.text, 4), cut) << describe(c);
      EXPECT_THROW(tokenizer_->tokenize(c.text, 4, false), InputError) << describe(c);
    }
  }
}

TEST_F(ClipTokenizerGolden, NoTruncateRejectsLongTexts) {
  int long_cases = 0;
  for (const GoldenCase& c : *cases_) {
    if (c.n_tokens_untruncated <= 77) continue;
    ++long_cases;
    EXPECT_THROW(tokenizer_->tokenize(c.text, 77, false), InputError) << describe(c);
    const std::vector<int> full = tokenizer_->tokenize(c.text, c.n_tokens_untruncated, false);
    EXPECT_EQ(std::vector<int>(full.begin(), full.begin() + 76), std::vector<int>(c.ids.begin(), c.ids.begin() + 76));
    EXPECT_EQ(full.back(), kClipEndOfText);
  }
  EXPECT_GT(long_cases, 0) << "the golden file has no text longer than the context";
}

TEST_F(ClipTokenizerGolden, ConcurrentEncodingAgreesWithTheGoldens) {
  // A fresh tokenizer (empty cache) used by two threads at once: the shared cache must not corrupt results.
  const ClipTokenizer fresh(clip_vocab());
  std::vector<int> failures(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (int repeat = 0; repeat < 3; ++repeat)
        for (const GoldenCase& c : *cases_)
          if (fresh.tokenize(c.text) != c.ids) ++failures[t];
    });
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(2, 0));
}

TEST_F(ClipTokenizerGolden, InvalidUtf8TextIsAnInputError) {
  EXPECT_THROW(tokenizer_->encode("caf\xC3"), InputError);
  EXPECT_THROW(tokenizer_->encode("\xC0\xAF"), InputError);        // overlong '/'
  EXPECT_THROW(tokenizer_->encode("\xED\xA0\x80"), InputError);    // a surrogate
  EXPECT_THROW(tokenizer_->encode("\xF4\x90\x80\x80"), InputError);  // above U+10FFFF
}

// Expects constructing a tokenizer from `path` to throw an InputError whose message names the file
// and contains `reason`.
void expect_vocab_error(const std::filesystem::path& path, const std::string& reason) {
  try {
    ClipTokenizer tokenizer(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find(reason), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

TEST(ClipTokenizerVocab, MissingFile) {
  expect_vocab_error(std::filesystem::path(TEDLOC_BUILD_DIR) / "no_such_dir" / "bpe_simple_vocab_16e6.txt.gz",
                     "not found");
}

TEST(ClipTokenizerVocab, TruncatedGzip) {
  TEDLOC_NEED_SHARED("golden/clip");
  const std::string bytes = testing::read_bytes(clip_vocab());
  ASSERT_GT(bytes.size(), 1000u);
  ScratchFile half("truncated_vocab.txt.gz");
  half.write(bytes.substr(0, bytes.size() / 2));
  expect_vocab_error(half.path, "corrupt gzip data");
  ScratchFile no_trailer("no_trailer_vocab.txt.gz");  // all the data but the CRC/length trailer
  no_trailer.write(bytes.substr(0, bytes.size() - 4));
  expect_vocab_error(no_trailer.path, "corrupt gzip data");
}

TEST(ClipTokenizerVocab, DamagedGzip) {
  TEDLOC_NEED_SHARED("golden/clip");
  std::string bytes = testing::read_bytes(clip_vocab());
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5A);
  ScratchFile damaged("damaged_vocab.txt.gz");
  damaged.write(bytes);
  expect_vocab_error(damaged.path, "corrupt gzip data");
}

TEST(ClipTokenizerVocab, NotGzip) {
  TEDLOC_NEED_SHARED("golden/clip");
  ScratchFile plain("plain_vocab.txt");
  plain.write(testing::golden_merges_text());
  expect_vocab_error(plain.path, "not a gzip file");
  ScratchFile empty("empty_vocab.txt.gz");
  empty.write("");
  expect_vocab_error(empty.path, "not a gzip file");
}

TEST(ClipTokenizerVocab, TooFewMerges) {
  TEDLOC_NEED_SHARED("golden/clip");
  // The file lists far more merges than the 48894 the reference reads; keep fewer than those.
  const std::string text = testing::golden_merges_text();
  std::size_t end = 0;
  for (int line = 0; line < 40000; ++line) end = text.find('\n', end) + 1;
  ScratchFile shortened("short_vocab.txt.gz");
  shortened.write_gzip(text.substr(0, end));
  expect_vocab_error(shortened.path, "truncated");
}

TEST(ClipTokenizerVocab, MalformedMergeLine) {
  TEDLOC_NEED_SHARED("golden/clip");
  std::string text = testing::golden_merges_text();
  // Glue the two symbols of line 101 together.
  std::size_t begin = 0;
  for (int line = 1; line < 101; ++line) begin = text.find('\n', begin) + 1;
  text.erase(text.find(' ', begin), 1);
  ScratchFile malformed("malformed_vocab.txt.gz");
  malformed.write_gzip(text);
  expect_vocab_error(malformed.path, ":101: a merge line must hold two symbols");
}

}  // namespace
}  // namespace tedloc::text
