// CLIP's byte-level BPE (clip/simple_tokenizer.py), working on symbol ids instead of strings.
#include "tedloc/text/clip_tokenizer.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include <fmt/format.h>

#include "tedloc/error.hpp"
#include "unicode_text.hpp"

namespace tedloc::text {
namespace {

constexpr std::size_t kMergeCount = 49152 - 256 - 2;  // the reference reads lines 2 .. 48895
constexpr std::string_view kEndOfWord = "</w>";

// GPT-2's bytes_to_unicode: printable bytes (33-126, 161-172, 174-255) stand for themselves; the other
// 68 bytes, in increasing order, become U+0100, U+0101, ... so that every symbol is a visible character.
std::array<char32_t, 256> byte_symbols() {
  std::array<char32_t, 256> symbol{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    symbol[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return symbol;
}

// The byte symbols in vocabulary order: the printable ones first, then the remapped ones.
std::array<int, 256> bytes_in_vocabulary_order(const std::array<char32_t, 256>& symbol) {
  std::array<int, 256> order{};
  int n = 0;
  for (int pass = 0; pass < 2; ++pass)
    for (int b = 0; b < 256; ++b)
      if ((symbol[b] == static_cast<char32_t>(b)) == (pass == 0)) order[n++] = b;
  return order;
}

std::string read_gzip(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(fmt::format("{}: CLIP BPE vocabulary not found (expected bpe_simple_vocab_16e6.txt.gz)",
                                 path.string()));
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw InputError(fmt::format("{}: cannot open the CLIP BPE vocabulary", path.string()));
  std::string text;
  char buffer[1 << 16];
  int n = 0;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, n);
  int code = Z_OK;
  const std::string reason = n < 0 ? gzerror(file, &code) : "";
  const bool plain = gzdirect(file) != 0;
  const int closed = gzclose_r(file);
  if (n < 0 || closed != Z_OK)
    throw InputError(fmt::format("{}: corrupt gzip data ({})", path.string(),
                                 reason.empty() ? "truncated or damaged" : reason));
  if (plain)
    throw InputError(fmt::format("{}: not a gzip file (expected CLIP's bpe_simple_vocab_16e6.txt.gz)", path.string()));
  return text;
}

std::uint64_t pair_key(int left, int right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}

bool is_ascii_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Python's str.split() of one merge line (its symbols hold no whitespace): the whitespace-separated words.
std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  for (std::size_t i = 0; i < line.size();) {
    while (i < line.size() && is_ascii_blank(line[i])) ++i;
    const std::size_t begin = i;
    while (i < line.size() && !is_ascii_blank(line[i])) ++i;
    if (i > begin) words.push_back(line.substr(begin, i - begin));
  }
  return words;
}

}  // namespace

struct ClipTokenizer::Impl {
  std::array<int, 256> byte_id{};      // id of a byte's symbol
  std::array<int, 256> byte_end_id{};  // id of the same symbol + "</w>" (last symbol of a word)
  std::unordered_map<std::uint64_t, int> merge_rank;  // (left id, right id) -> rank (lower merges first)
  std::vector<std::uint64_t> merge_pair;               // rank -> (left id, right id)
  std::vector<int> merge_result;                       // rank -> id of the merged symbol

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int>> cache;  // piece (UTF-8) -> its ids

  std::vector<int> bpe(std::string_view piece) const;
  const std::vector<int>& cached_bpe(const std::string& piece) const;
};

// Initial symbols: one per byte, the last marked end-of-word. Then repeatedly merge every
// non-overlapping occurrence (left to right) of the adjacent pair with the lowest rank.
std::vector<int> ClipTokenizer::Impl::bpe(std::string_view piece) const {
  std::vector<int> word(piece.size());
  for (std::size_t i = 0; i < piece.size(); ++i) {
    const auto b = static_cast<unsigned char>(piece[i]);
    word[i] = i + 1 == piece.size() ? byte_end_id[b] : byte_id[b];
  }
  std::vector<int> merged;
  while (word.size() > 1) {
    int best = INT_MAX;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = merge_rank.find(pair_key(word[i], word[i + 1]));
      if (it != merge_rank.end() && it->second < best) best = it->second;
    }
    if (best == INT_MAX) break;
    const int left = static_cast<int>(merge_pair[best] >> 32);
    const int right = static_cast<int>(merge_pair[best] & 0xFFFFFFFFu);
    merged.clear();
    for (std::size_t i = 0; i < word.size();) {
      if (word[i] == left && i + 1 < word.size() && word[i + 1] == right) {
        merged.push_back(merge_result[best]);
        i += 2;
      } else {
        merged.push_back(word[i++]);
      }
    }
    word.swap(merged);
  }
  return word;
}

const std::vector<int>& ClipTokenizer::Impl::cached_bpe(const std::string& piece) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (const auto it = cache.find(piece); it != cache.end()) return it->second;
  }
  std::vector<int> ids = bpe(piece);
  std::lock_guard<std::mutex> lock(cache_mutex);
  return cache.emplace(piece, std::move(ids)).first->second;  // entries are never erased: references stay valid
}

ClipTokenizer::ClipTokenizer(const std::filesystem::path& vocab_gz) : impl_(std::make_unique<Impl>()) {
  const std::string text = read_gzip(vocab_gz);
  try {
    detail::decode_utf8(text);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", vocab_gz.string(), e.what()));
  }
  std::vector<std::string_view> lines;
  for (std::size_t begin = 0; begin <= text.size();) {
    const std::size_t end = std::min(text.find('\n', begin), text.size());
    lines.push_back(std::string_view(text).substr(begin, end - begin));
    begin = end + 1;
  }
  if (lines.size() < kMergeCount + 1)
    throw InputError(fmt::format("{}: {} lines, expected at least {} (a header and {} merges): truncated, or not "
                                 "CLIP's bpe_simple_vocab_16e6.txt.gz",
                                 vocab_gz.string(), lines.size(), kMergeCount + 1, kMergeCount));

  // The vocabulary in the reference's order; like its dict, a string listed twice keeps its last id.
  std::unordered_map<std::string, int> encoder;
  int next_id = 0;
  const auto add = [&](std::string token) { encoder[std::move(token)] = next_id++; };
  const std::array<char32_t, 256> symbol = byte_symbols();
  const std::array<int, 256> order = bytes_in_vocabulary_order(symbol);
  const auto symbol_utf8 = [&](int b) { return detail::encode_utf8(std::u32string(1, symbol[b])); };
  for (int b : order) add(symbol_utf8(b));
  for (int b : order) add(symbol_utf8(b) + std::string(kEndOfWord));
  std::vector<std::pair<std::string_view, std::string_view>> merges;
  for (std::size_t line = 1; line <= kMergeCount; ++line) {
    const std::vector<std::string_view> words = split_words(lines[line]);
    if (words.size() != 2)
      throw InputError(fmt::format("{}:{}: a merge line must hold two symbols, got '{}'", vocab_gz.string(), line + 1,
                                   lines[line]));
    merges.emplace_back(words[0], words[1]);
    add(std::string(words[0]) + std::string(words[1]));
  }
  add("<|startoftext|>");
  add("<|endoftext|>");

  for (int b = 0; b < 256; ++b) {
    impl_->byte_id[b] = encoder.at(symbol_utf8(b));
    impl_->byte_end_id[b] = encoder.at(symbol_utf8(b) + std::string(kEndOfWord));
  }
  impl_->merge_pair.resize(merges.size());
  impl_->merge_result.resize(merges.size());
  for (std::size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [first, second] = merges[rank];
    const auto left = encoder.find(std::string(first)), right = encoder.find(std::string(second));
    if (left == encoder.end() || right == encoder.end()) continue;  // no word can ever hold this pair
    impl_->merge_pair[rank] = pair_key(left->second, right->second);
    impl_->merge_rank[impl_->merge_pair[rank]] = static_cast<int>(rank);  // a repeated pair keeps its last rank
    impl_->merge_result[rank] = encoder.at(std::string(first) + std::string(second));
  }
  // The special tokens are never split: the reference seeds its BPE cache with them.
  for (const char* special : {"<|startoftext|>", "<|endoftext|>"})
    impl_->cache.emplace(special, std::vector<int>{encoder.at(special)});
}

ClipTokenizer::~ClipTokenizer() = default;
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;

std::vector<int> ClipTokenizer::encode(std::string_view text) const {
  const std::u32string cleaned = detail::clip_clean(detail::decode_utf8(text));
  std::vector<int> ids;
  std::string piece;
  detail::clip_pretokenize(cleaned, [&](std::size_t begin, std::size_t length) {
    piece.clear();
    for (std::size_t i = begin; i < begin + length; ++i) detail::append_utf8(piece, cleaned[i]);
    const std::vector<int>& piece_ids = impl_->cached_bpe(piece);
    ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  });
  return ids;
}

std::vector<int> ClipTokenizer::tokenize(std::string_view text, int context_length, bool truncate) const {
  return clip_token_sequence(encode(text), context_length, truncate);
}

std::vector<int> clip_token_sequence(const std::vector<int>& ids, int context_length, bool truncate) {
  if (context_length < 2)
    throw InputError(fmt::format("context length {} cannot hold the start and end tokens", context_length));
  const std::size_t length = ids.size() + 2;
  if (length > static_cast<std::size_t>(context_length) && !truncate)
    throw InputError(fmt::format("text of {} tokens (start and end included) is too long for context length {}",
                                 length, context_length));
  std::vector<int> sequence(context_length, 0);
  sequence[0] = kClipStartOfText;
  const std::size_t kept = std::min(ids.size(), static_cast<std::size_t>(context_length) - 1);
  std::copy_n(ids.begin(), kept, sequence.begin() + 1);
  sequence[std::min(length, static_cast<std::size_t>(context_length)) - 1] = kClipEndOfText;
  return sequence;
}

}  // namespace tedloc::text
