// `tedloc clip tokenize`: stdin lines -> JSON arrays of CLIP token ids.
#include "tedloc/cli/tokenize_command.hpp"

#include <boost/program_options.hpp>

#include <iostream>
#include <string>

#include <fmt/format.h>

#include "tedloc/error.hpp"
#include "tedloc/text/clip_tokenizer.hpp"

namespace tedloc::text {
namespace po = boost::program_options;

namespace {

// One line of output, spaced like Python's json.dumps so that outputs diff cleanly against it.
std::string json_array(const std::vector<int>& ids) {
  std::string out = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

}  // namespace

int tokenize_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                     std::ostream& err) {
  std::string vocab;
  int context = kClipContextLength;
  po::options_description options(
      "Usage: tedloc clip tokenize --vocab FILE [--context 77] [--no-truncate] < texts.txt\n"
      "Tokenises each line of stdin (UTF-8) exactly as OpenAI's clip.tokenize and prints one JSON array\n"
      "of `context` ids per line: 49406 (start), the BPE ids, 49407 (end), zeros. Options");
  options.add_options()
      ("help,h", "print this help")
      ("vocab", po::value(&vocab)->value_name("FILE"),
       "CLIP's merge list bpe_simple_vocab_16e6.txt.gz (from the openai/CLIP repository)")
      ("context", po::value(&context)->default_value(kClipContextLength)->value_name("N"),
       "ids per line; longer texts are cut, keeping the end token last")
      ("no-truncate", "fail (exit 3) on a text longer than the context instead of cutting it");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
    po::notify(vm);
    if (vm.count("help")) {
      out << options << "\n";
      return kExitOk;
    }
    if (vocab.empty()) throw UsageError("--vocab FILE is required");
    if (context < 2) throw UsageError(fmt::format("--context {} cannot hold the start and end tokens", context));
  } catch (const std::exception& e) {  // program_options errors and ours
    err << "tedloc clip tokenize: " << e.what() << " (see --help)\n";
    return kExitUsage;
  }

  const bool truncate = vm.count("no-truncate") == 0;
  std::size_t line_number = 0;
  try {
    const ClipTokenizer tokenizer(vocab);
    for (std::string line; std::getline(in, line);) {
      ++line_number;
      out << json_array(tokenizer.tokenize(line, context, truncate)) << '\n';
    }
  } catch (const InputError& e) {
    out.flush();
    if (line_number == 0) err << "tedloc clip tokenize: " << e.what() << "\n";
    else err << "tedloc clip tokenize: stdin line " << line_number << ": " << e.what() << "\n";
    return kExitBadInput;
  }
  return kExitOk;
}

int tokenize_command(const std::vector<std::string>& args) {
  std::ios::sync_with_stdio(false);
  return tokenize_command(args, std::cin, std::cout, std::cerr);
}

}  // namespace tedloc::text
