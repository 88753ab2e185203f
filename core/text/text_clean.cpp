// CLIP's text cleaning and pre-tokenising pattern with Python's semantics (see text_clean.hpp).
#include "tedloc/text/text_clean.hpp"

#include <unicode/uchar.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <fmt/format.h>

#include "tedloc/error.hpp"
#include "unicode_text.hpp"

namespace tedloc::text {
namespace detail {

std::u32string decode_utf8(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  const auto fail = [&] {
    throw InputError(fmt::format("text is not valid UTF-8 (byte {} of {})", i, bytes.size()));
  };
  while (i < bytes.size()) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int extra = 0;
    char32_t c = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0) extra = 1, c = b0 & 0x1F, min = 0x80;
    else if ((b0 & 0xF0) == 0xE0) extra = 2, c = b0 & 0x0F, min = 0x800;
    else if ((b0 & 0xF8) == 0xF0) extra = 3, c = b0 & 0x07, min = 0x10000;
    else fail();
    if (i + extra >= bytes.size()) fail();
    for (int k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(bytes[i + k]);
      if ((b & 0xC0) != 0x80) fail();
      c = (c << 6) | (b & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) fail();
    out.push_back(c);
    i += extra + 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

namespace {
bool is_ascii_space(char32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
bool is_ascii_letter(char32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
bool has_category(char32_t c, uint32_t mask) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & mask) != 0; }
}  // namespace

bool is_regex_space(char32_t c) {
  return c < 0x80 ? is_ascii_space(c) : u_isUWhiteSpace(static_cast<UChar32>(c)) != 0;
}

bool is_python_space(char32_t c) { return is_regex_space(c) || (c >= 0x1C && c <= 0x1F); }

bool is_letter(char32_t c) { return c < 0x80 ? is_ascii_letter(c) : has_category(c, U_GC_L_MASK); }

bool is_number(char32_t c) { return c < 0x80 ? (c >= '0' && c <= '9') : has_category(c, U_GC_N_MASK); }

std::u32string python_strip(std::u32string_view text) {
  std::size_t begin = 0, end = text.size();
  while (begin < end && is_python_space(text[begin])) ++begin;
  while (end > begin && is_python_space(text[end - 1])) --end;
  return std::u32string(text.substr(begin, end - begin));
}

std::u32string python_lower(std::u32string_view text) {
  bool ascii = true;
  for (char32_t c : text) ascii = ascii && c < 0x80;
  if (ascii) {
    std::u32string out(text);
    for (char32_t& c : out) c = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    return out;
  }
  // ICU lowercases UTF-16 with the root locale's full mappings (special casing, final sigma): the
  // same rules as Python's str.lower(), which is locale-independent.
  std::u16string utf16;
  for (char32_t c : text) {
    UChar units[2];
    int32_t n = 0;
    UBool error = false;
    U16_APPEND(units, n, 2, static_cast<UChar32>(c), error);
    (void)error;  // the code points come from validated UTF-8: never a surrogate or above U+10FFFF
    utf16.append(reinterpret_cast<const char16_t*>(units), n);
  }
  const auto to_lower = [&](std::u16string& lowered) {
    UErrorCode status = U_ZERO_ERROR;
    const int32_t length = u_strToLower(reinterpret_cast<UChar*>(lowered.data()), static_cast<int32_t>(lowered.size()),
                                        reinterpret_cast<const UChar*>(utf16.data()),
                                        static_cast<int32_t>(utf16.size()), "", &status);
    if (status == U_BUFFER_OVERFLOW_ERROR) return length;
    if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU u_strToLower failed: ") + u_errorName(status));
    lowered.resize(length);
    return -1;
  };
  std::u16string lowered(utf16.size() + 8, u'\0');
  if (const int32_t needed = to_lower(lowered); needed >= 0) {  // special casing made it longer
    lowered.assign(needed, u'\0');
    to_lower(lowered);
  }
  const auto length = static_cast<int32_t>(lowered.size());
  std::u32string out;
  out.reserve(length);
  for (int32_t i = 0; i < length;) {
    UChar32 c;
    U16_NEXT(reinterpret_cast<const UChar*>(lowered.data()), i, length, c);
    out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

std::u32string whitespace_clean(std::u32string_view text) {
  std::u32string collapsed;
  collapsed.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (is_regex_space(text[i])) {
      collapsed.push_back(U' ');
      while (i < text.size() && is_regex_space(text[i])) ++i;
    } else {
      collapsed.push_back(text[i++]);
    }
  }
  return python_strip(collapsed);
}

std::u32string basic_clean(std::u32string_view text) {
  // ftfy.fix_text is the identity here (see text_clean.hpp).
  return python_strip(html_unescape(html_unescape(text)));
}

std::u32string clip_clean(std::u32string_view text) { return python_lower(whitespace_clean(basic_clean(text))); }

namespace {

char32_t simple_fold(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  return static_cast<char32_t>(u_foldCase(static_cast<UChar32>(c), U_FOLD_CASE_DEFAULT));
}

// The pattern is compiled with IGNORECASE: literals compare by simple case folding (U+017F long s
// matches 's').
bool matches_ignorecase(std::u32string_view text, std::size_t pos, std::string_view literal) {
  if (text.size() - pos < literal.size()) return false;
  for (std::size_t k = 0; k < literal.size(); ++k)
    if (simple_fold(text[pos + k]) != static_cast<char32_t>(literal[k])) return false;
  return true;
}

// [^\s\p{L}\p{N}] under IGNORECASE: `regex` rejects a character when any of its case variants is in the
// set. This matters for U+0345 (a combining mark whose uppercase is the letter iota): no alternative
// takes it, so it is dropped like whitespace.
bool is_other_ignorecase(char32_t c) {
  const auto in_set = [](UChar32 v) {
    const auto u = static_cast<char32_t>(v);
    return is_regex_space(u) || is_letter(u) || is_number(u);
  };
  if (c < 0x80) return !in_set(static_cast<UChar32>(c));
  const auto cp = static_cast<UChar32>(c);
  return !in_set(cp) && !in_set(u_foldCase(cp, U_FOLD_CASE_DEFAULT)) && !in_set(u_toupper(cp)) &&
         !in_set(u_tolower(cp)) && !in_set(u_totitle(cp));
}

template <class Predicate>
std::size_t run_length(std::u32string_view text, std::size_t pos, Predicate in_run) {
  std::size_t end = pos;
  while (end < text.size() && in_run(text[end])) ++end;
  return end - pos;
}

}  // namespace

std::size_t clip_piece_length(std::u32string_view text, std::size_t pos) {
  static constexpr std::string_view kSpecial[] = {"<|startoftext|>", "<|endoftext|>"};
  static constexpr std::string_view kContractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
  for (std::string_view literal : kSpecial)
    if (matches_ignorecase(text, pos, literal)) return literal.size();
  for (std::string_view literal : kContractions)
    if (matches_ignorecase(text, pos, literal)) return literal.size();
  const char32_t c = text[pos];
  if (is_letter(c)) return run_length(text, pos, is_letter);
  if (is_number(c)) return 1;
  return run_length(text, pos, is_other_ignorecase);
}

}  // namespace detail

std::string html_unescape(std::string_view text) {
  if (text.find('&') == std::string_view::npos) return std::string(text);
  return detail::encode_utf8(detail::html_unescape(detail::decode_utf8(text)));
}

std::string python_strip(std::string_view text) {
  return detail::encode_utf8(detail::python_strip(detail::decode_utf8(text)));
}

std::string python_lower(std::string_view text) {
  return detail::encode_utf8(detail::python_lower(detail::decode_utf8(text)));
}

std::string basic_clean(std::string_view text) {
  return detail::encode_utf8(detail::basic_clean(detail::decode_utf8(text)));
}

std::string whitespace_clean(std::string_view text) {
  return detail::encode_utf8(detail::whitespace_clean(detail::decode_utf8(text)));
}

std::string clip_clean(std::string_view text) {
  return detail::encode_utf8(detail::clip_clean(detail::decode_utf8(text)));
}

std::vector<std::string> clip_pretokenize(std::string_view cleaned) {
  const std::u32string text = detail::decode_utf8(cleaned);
  std::vector<std::string> pieces;
  detail::clip_pretokenize(text, [&](std::size_t begin, std::size_t length) {
    pieces.push_back(detail::encode_utf8(std::u32string_view(text).substr(begin, length)));
  });
  return pieces;
}

}  // namespace tedloc::text
