#pragma once
// CLIP's text cleaning and pre-tokenisation (clip/simple_tokenizer.py), with the exact semantics of the
// Python functions the reference calls. All strings are UTF-8; invalid UTF-8 throws tedloc::InputError.
//
// ftfy.fix_text, the reference's first step, is the identity here: ftfy is a large heuristic library
// (mojibake repair, curly quotes, ligatures, full-width forms, control characters) with no C++ port.
// The goldens were made without it as well; texts that ftfy would change (e.g. mojibake) may tokenise
// differently from a reference run that has ftfy installed.
#include <string>
#include <string_view>
#include <vector>

namespace tedloc::text {

// Python's html.unescape: numeric references (&#65; &#x41;, with or without ';', invalid code points
// replaced as Python does) and the named HTML5 references, including the legacy ones without ';'
// (`&amp` -> `&`, `&notit;` -> `¬it;`). The named table is generated at build time from the build
// machine's Python (html.entities.html5); see html5_entity_table_complete().
std::string html_unescape(std::string_view text);

// False when the build had no python3: then only numeric references and the XML five
// (&amp; &lt; &gt; &quot; &apos;, and the first four without ';') are decoded.
bool html5_entity_table_complete();

// Python's str.strip(): removes leading/trailing characters for which str.isspace() is true.
std::string python_strip(std::string_view text);

// Python's str.lower(): full Unicode lowercasing (special casing such as U+0130, final sigma).
std::string python_lower(std::string_view text);

// simple_tokenizer.basic_clean: ftfy (identity, see above), html.unescape twice, strip.
std::string basic_clean(std::string_view text);

// simple_tokenizer.whitespace_clean: every run of `regex` \s (Unicode White_Space) becomes one space,
// then strip.
std::string whitespace_clean(std::string_view text);

// The full cleaning that SimpleTokenizer.encode applies: whitespace_clean(basic_clean(text)).lower().
std::string clip_clean(std::string_view text);

// Splits cleaned text with CLIP's pattern (case-insensitive), alternatives tried in this order at each
// position: <|startoftext|>, <|endoftext|>, 's 't 're 've 'm 'll 'd, \p{L}+, one \p{N}, [^\s\p{L}\p{N}]+.
// Characters no alternative matches (whitespace) are dropped.
std::vector<std::string> clip_pretokenize(std::string_view cleaned);

}  // namespace tedloc::text
