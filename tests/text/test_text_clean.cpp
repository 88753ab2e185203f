// The cleaning steps of CLIP's tokenizer: each expected value is what Python 3.11 returns
// (html.unescape, str.strip, str.lower, the `regex` module's findall with CLIP's pattern).
#include <gtest/gtest.h>

#include <random>

#include "tedloc/error.hpp"
#include "tedloc/text/text_clean.hpp"

namespace tedloc::text {
namespace {

using Strings = std::vector<std::string>;

TEST(HtmlUnescape, NumericReferences) {
  EXPECT_EQ(html_unescape("it&#39;s"), "it's");
  EXPECT_EQ(html_unescape("&#x27"), "'");             // ';' is optional
  EXPECT_EQ(html_unescape("&#65&#X41;"), "AA");
  EXPECT_EQ(html_unescape("&#128;"), "\u20AC");        // C1 range: the Windows-1252 reading
  EXPECT_EQ(html_unescape("&#x81;"), "\u0081");        // ... where Windows-1252 has nothing
  EXPECT_EQ(html_unescape("&#13;"), "\r");
  EXPECT_EQ(html_unescape("&#0;"), "\uFFFD");
  EXPECT_EQ(html_unescape("&#xD800;"), "\uFFFD");      // surrogate
  EXPECT_EQ(html_unescape("&#x110000;"), "\uFFFD");    // beyond Unicode
  EXPECT_EQ(html_unescape("&#99999999999999999999;"), "\uFFFD");
  EXPECT_EQ(html_unescape("a&#1;b&#xFFFE;c&#xFDD0;d"), "abcd");  // controls and noncharacters vanish
  EXPECT_EQ(html_unescape("&#;&#x;&#xg;"), "&#;&#x;&#xg;");      // not references
}

TEST(HtmlUnescape, NamedReferences) {
  EXPECT_EQ(html_unescape("Tom &amp; Jerry"), "Tom & Jerry");
  EXPECT_EQ(html_unescape("&amp;lt;"), "&lt;");  // one pass only
  EXPECT_EQ(html_unescape("&lt&gt"), "<>");      // legacy names without ';'
  EXPECT_EQ(html_unescape("&ampx"), "&x");
  EXPECT_EQ(html_unescape("&nosuch;"), "&nosuch;");
  EXPECT_EQ(html_unescape("& amp; a&"), "& amp; a&");
  EXPECT_EQ(html_unescape("&abcdefghijklmnopqrstuvwxyzabcdefgh;"), "&abcdefghijklmnopqrstuvwxyzabcdefgh;");
  if (!html5_entity_table_complete()) GTEST_SKIP() << "built without python3: no HTML5 named table";
  EXPECT_EQ(html_unescape("&eacute"), "\u00E9");
  EXPECT_EQ(html_unescape("&Eacute;x"), "\u00C9x");
  EXPECT_EQ(html_unescape("&AMP;"), "&");
  EXPECT_EQ(html_unescape("&notit;"), "\u00ACit;");  // the longest known prefix, then the rest
  EXPECT_EQ(html_unescape("&amp\u00E9;"), "&\u00E9;");
  EXPECT_EQ(html_unescape("&CounterClockwiseContourIntegral;"), "\u2233");  // the longest name: 32 characters
}

TEST(BasicClean, UnescapesTwiceAndStrips) {
  EXPECT_EQ(basic_clean("  &amp;lt;b&amp;gt;  "), "<b>");
  EXPECT_EQ(basic_clean("\x1c\u3000x\u00A0"), "x");  // str.strip() also removes U+001C..U+001F
}

TEST(PythonStrip, UsesStrIsspace) {
  EXPECT_EQ(python_strip("\t\n\v\f\r \u0085\u00A0\u1680\u2000\u200A\u2028\u2029\u202F\u205F\u3000\x1c\x1d\x1e\x1f" "a b"
                         " \u200B"),
            "a b \u200B");  // U+200B ZERO WIDTH SPACE is not whitespace
}

TEST(WhitespaceClean, CollapsesUnicodeWhitespaceRuns) {
  EXPECT_EQ(whitespace_clean("  non\u00A0breaking\u3000\u3000space\t\n end "), "non breaking space end");
  EXPECT_EQ(whitespace_clean("a\x1c b"), "a\x1c b");  // regex \s is White_Space only: U+001C stays inside
  EXPECT_EQ(whitespace_clean(" \r\n "), "");
}

TEST(PythonLower, FullUnicodeLowercasing) {
  EXPECT_EQ(python_lower("A Photo OF"), "a photo of");
  EXPECT_EQ(python_lower("\u00C0\u00C9\u00CE"), "\u00E0\u00E9\u00EE");
  EXPECT_EQ(python_lower("\u0130"), "i\u0307");                    // special casing: two code points
  std::string many_dotted_i, expected;
  for (int i = 0; i < 40; ++i) many_dotted_i += "\u0130", expected += "i\u0307";
  EXPECT_EQ(python_lower(many_dotted_i), expected);  // the lowercase text is longer than its source
  EXPECT_EQ(python_lower("\u03A3\u0391\u03A3 \u039F\u0394\u039F\u03A3"), "\u03C3\u03B1\u03C2 \u03BF\u03B4\u03BF\u03C2");  // final sigma
  EXPECT_EQ(python_lower("\u01C5"), "\u01C6");                     // titlecase digraph
  EXPECT_EQ(python_lower("\u1E9E"), "\u00DF");                     // capital sharp s
  EXPECT_EQ(python_lower("\u216B"), "\u217B");                     // Roman numeral twelve
  EXPECT_EQ(python_lower("\u041F\u0420\u0418\u0412\u0415\u0422"), "\u043F\u0440\u0438\u0432\u0435\u0442");
}

TEST(ClipClean, AllStepsInOrder) {
  EXPECT_EQ(clip_clean("  A&amp;amp;B\u00A0\u00A0C  "), "a&b c");
}

TEST(ClipPretokenize, ReferencePatternPieces) {
  EXPECT_EQ(clip_pretokenize("it's 123 dog's!! they're"), (Strings{"it", "'s", "1", "2", "3", "dog", "'s", "!!", "they", "'re"}));
  EXPECT_EQ(clip_pretokenize("''s"), (Strings{"''", "s"}));
  EXPECT_EQ(clip_pretokenize("a<|endoftext|>b"), (Strings{"a", "<|endoftext|>", "b"}));
  EXPECT_EQ(clip_pretokenize("!<|endoftext|>x"), (Strings{"!<|", "endoftext", "|>", "x"}));  // no backtracking
  EXPECT_EQ(clip_pretokenize("\u00B2\u00BD\u0663"), (Strings{"\u00B2", "\u00BD", "\u0663"}));  // one number each
  EXPECT_EQ(clip_pretokenize("\u0939\u093F\u0928\u094D\u0926\u0940"),  // Devanagari: letters and marks alternate
            (Strings{"\u0939", "\u093F", "\u0928", "\u094D", "\u0926", "\u0940"}));
  EXPECT_EQ(clip_pretokenize("thumbs \U0001F44D\U0001F3FD up"), (Strings{"thumbs", "\U0001F44D\U0001F3FD", "up"}));
  EXPECT_EQ(clip_pretokenize("it'\u017F"), (Strings{"it", "'\u017F"}));  // IGNORECASE: long s folds to s
  EXPECT_EQ(clip_pretokenize("x\u0345y"), (Strings{"x", "y"}));  // IGNORECASE: no alternative takes U+0345
}

TEST(TextClean, InvalidUtf8IsAnInputError) {
  EXPECT_THROW(clip_clean("\xFF"), InputError);
  EXPECT_THROW(clip_pretokenize("a\x80"), InputError);
}

// Property test (run under the asan preset too): random bytes and random mixes of the tricky pieces either
// clean to valid UTF-8 or throw InputError, never anything else.
TEST(TextClean, RandomInputCleansOrThrowsInputError) {
  const std::vector<std::string> pieces = {"&", "&#", "&#x", "&#1", "9;", "&amp", ";", "&notit", "'", "s", "ll", "<|",
                                           "endoftext", "|>", " ", "\u00A0", "\u0130", "\u03A3", "\u0345", "\U0001F600",
                                           "\xC3", "\xA9", "\xF0\x9F", "\xED\xA0\x80", "A", "7", "\u00B2"};
  std::mt19937 rng(1234);
  int cleaned = 0, rejected = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const int length = static_cast<int>(rng() % 16);
    for (int k = 0; k < length; ++k) {
      if (round % 2) text += pieces[rng() % pieces.size()];
      else text += static_cast<char>(rng() % 256);
    }
    try {
      const std::string clean = clip_clean(text);
      EXPECT_NO_THROW(clip_pretokenize(clean)) << "cleaning produced invalid UTF-8";
      ++cleaned;
    } catch (const InputError&) {
      ++rejected;
    }
  }
  EXPECT_GT(cleaned, 1000);
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace tedloc::text
