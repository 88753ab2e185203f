// Python's html.unescape (Lib/html/__init__.py), character for character.
#include <algorithm>
#include <iterator>

#include "tedloc/text/text_clean.hpp"
#include "unicode_text.hpp"

namespace tedloc::text {
namespace {

struct NamedReference {
  std::string_view name;   // with its ';' when the reference has one
  std::string_view value;  // UTF-8
};

// Generated at build time into the build tree (core/text/CMakeLists.txt): sorted by name.
constexpr NamedReference kNamedReferences[] = {
#include "html_entities.inc"
};

const NamedReference* find_named(std::string_view name) {
  const auto* it = std::lower_bound(std::begin(kNamedReferences), std::end(kNamedReferences), name,
                                    [](const NamedReference& r, std::string_view n) { return r.name < n; });
  return it != std::end(kNamedReferences) && it->name == name ? it : nullptr;
}

// HTML5's replacements for numeric references to C1 controls: the Windows-1252 reading of bytes
// 0x80..0x9F (WHATWG "numeric character reference end state"); the five bytes Windows-1252 leaves
// undefined stay themselves.
constexpr char32_t kWindows1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

// Code points a numeric reference must not produce; Python drops them (replaces with nothing).
bool is_dropped_code_point(char32_t c) {
  return (c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) ||
         (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;  // noncharacters U+xxFFFE, U+xxFFFF
}

// Python's _replace_charref for `&#NUM;`, in its order: the special table, then out-of-range and
// surrogates -> U+FFFD, then dropped code points. `value` saturates above U+10FFFF.
void append_numeric(std::u32string& out, char32_t value) {
  if (value == 0x00) out.push_back(0xFFFD);
  else if (value == 0x0D) out.push_back(0x0D);
  else if (value >= 0x80 && value <= 0x9F) out.push_back(kWindows1252High[value - 0x80]);
  else if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) out.push_back(0xFFFD);
  else if (!is_dropped_code_point(value)) out.push_back(value);
}

int digit_value(char32_t c, int base) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') return static_cast<int>((c | 0x20) - 'a' + 10);
  return -1;
}

// Matches `#[0-9]+;?` or `#[xX][0-9a-fA-F]+;?` at text[pos] (just after '&'); returns the matched
// length (0: no match) and appends the replacement.
std::size_t replace_numeric(std::u32string_view text, std::size_t pos, std::u32string& out) {
  std::size_t i = pos + 1;  // after '#'
  int base = 10;
  if (i < text.size() && (text[i] == 'x' || text[i] == 'X')) base = 16, ++i;
  const std::size_t digits_begin = i;
  char32_t value = 0;
  for (int d; i < text.size() && (d = digit_value(text[i], base)) >= 0; ++i)
    value = std::min<char32_t>(value * base + d, 0x110000);  // anything above U+10FFFF is the same
  if (i == digits_begin) return 0;
  if (i < text.size() && text[i] == ';') ++i;
  append_numeric(out, value);
  return i - pos;
}

bool is_name_char(char32_t c) {
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' && c != ';';
}

// Matches `[^\t\n\f <&#;]{1,32};?` at text[pos]; appends Python's replacement: the reference itself,
// else its longest known prefix (>= 2 characters) followed by the rest, else the text unchanged.
std::size_t replace_named(std::u32string_view text, std::size_t pos, std::u32string& out) {
  std::size_t end = pos;
  while (end < text.size() && end - pos < 32 && is_name_char(text[end])) ++end;
  if (end == pos) return 0;
  if (end < text.size() && text[end] == ';') ++end;
  const std::u32string_view name = text.substr(pos, end - pos);
  // Every known name is ASCII: only the ASCII head of `name` can match.
  std::string ascii;
  for (char32_t c : name) {
    if (c >= 0x80) break;
    ascii.push_back(static_cast<char>(c));
  }
  const auto replace = [&](const NamedReference& ref, std::size_t length) {
    out += detail::decode_utf8(ref.value);
    out += name.substr(length);
    return end - pos;
  };
  if (ascii.size() == name.size())
    if (const NamedReference* ref = find_named(ascii)) return replace(*ref, name.size());
  for (std::size_t length = std::min(name.size() - 1, ascii.size()); length >= 2; --length)
    if (const NamedReference* ref = find_named(std::string_view(ascii).substr(0, length)))
      return replace(*ref, length);
  out.push_back('&');
  out += name;
  return end - pos;
}

}  // namespace

namespace detail {

std::u32string html_unescape(std::u32string_view text) {
  if (text.find(U'&') == std::u32string_view::npos) return std::u32string(text);
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] != '&' || i + 1 == text.size()) {
      out.push_back(text[i++]);
      continue;
    }
    const std::size_t matched =
        text[i + 1] == '#' ? replace_numeric(text, i + 1, out) : replace_named(text, i + 1, out);
    if (matched == 0) out.push_back(text[i]);
    i += 1 + matched;
  }
  return out;
}

}  // namespace detail

bool html5_entity_table_complete() { return TEDLOC_HTML5_ENTITIES_COMPLETE != 0; }

}  // namespace tedloc::text
