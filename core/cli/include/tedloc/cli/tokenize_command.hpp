#pragma once
// `tedloc clip tokenize --vocab FILE [--context 77] [--no-truncate]`: one text per stdin line in,
// one JSON array of token ids per line out.
#include <iosfwd>
#include <string>
#include <vector>

namespace tedloc::text {

// args = everything after `tedloc clip tokenize`. Returns an exit code from tedloc/error.hpp.
int tokenize_command(const std::vector<std::string>& args);

// The same on explicit streams (what tests call).
int tokenize_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                     std::ostream& err);

}  // namespace tedloc::text
