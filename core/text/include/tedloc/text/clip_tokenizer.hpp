#pragma once
// CLIP's byte-level BPE tokenizer, identical to the reference clip.tokenize (clip/simple_tokenizer.py).
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

namespace tedloc::text {

inline constexpr int kClipStartOfText = 49406;  // <|startoftext|>
inline constexpr int kClipEndOfText = 49407;    // <|endoftext|>
inline constexpr int kClipVocabSize = 49408;
inline constexpr int kClipContextLength = 77;

class ClipTokenizer {
 public:
  // Reads the merge list from the user's `bpe_simple_vocab_16e6.txt.gz`. A missing, non-gzip,
  // truncated or malformed file throws tedloc::InputError naming it.
  explicit ClipTokenizer(const std::filesystem::path& vocab_gz);
  ~ClipTokenizer();
  ClipTokenizer(ClipTokenizer&&) noexcept;
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept;

  // The BPE ids of `text` (UTF-8), without start/end tokens: SimpleTokenizer.encode.
  // Thread-safe; words already seen come from a cache.
  std::vector<int> encode(std::string_view text) const;

  // clip.tokenize for one text: [start] + encode(text) + [end], zero-padded to `context_length`.
  // Longer sequences keep their first `context_length` ids with the last one set to the end token when
  // `truncate`, and throw tedloc::InputError otherwise.
  std::vector<int> tokenize(std::string_view text, int context_length = kClipContextLength,
                            bool truncate = true) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// [start] + ids + [end], cut and padded as clip.tokenize does (see ClipTokenizer::tokenize).
std::vector<int> clip_token_sequence(const std::vector<int>& ids, int context_length, bool truncate);

}  // namespace tedloc::text
