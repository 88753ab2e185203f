#pragma once
// Internal: code-point strings and the Unicode predicates of Python / the `regex` module that CLIP's
// tokenizer relies on (ICU answers the property questions).
#include <string>
#include <string_view>

namespace tedloc::text::detail {

// Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF), as Python's decoder;
// throws tedloc::InputError naming the byte offset.
std::u32string decode_utf8(std::string_view bytes);
void append_utf8(std::string& out, char32_t c);
std::string encode_utf8(std::u32string_view text);

// `regex` \s in a str pattern: the Unicode White_Space property.
bool is_regex_space(char32_t c);
// str.isspace() (and so str.strip()): White_Space plus U+001C..U+001F (bidi classes B and S).
bool is_python_space(char32_t c);
bool is_letter(char32_t c);  // \p{L}: general category L*
bool is_number(char32_t c);  // \p{N}: general category N*

std::u32string html_unescape(std::u32string_view text);
std::u32string python_strip(std::u32string_view text);
std::u32string python_lower(std::u32string_view text);
std::u32string basic_clean(std::u32string_view text);
std::u32string whitespace_clean(std::u32string_view text);
std::u32string clip_clean(std::u32string_view text);

// Calls piece(begin, length) for each piece of CLIP's pre-tokenising pattern, in order.
template <class OnPiece>
void clip_pretokenize(std::u32string_view text, OnPiece&& piece);

// Internal to clip_pretokenize: the length of the piece that starts at `pos` (0: no alternative matches).
std::size_t clip_piece_length(std::u32string_view text, std::size_t pos);

template <class OnPiece>
void clip_pretokenize(std::u32string_view text, OnPiece&& piece) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t length = clip_piece_length(text, pos);
    if (length == 0) {
      ++pos;  // findall skips what no alternative matches
      continue;
    }
    piece(pos, length);
    pos += length;
  }
}

}  // namespace tedloc::text::detail
