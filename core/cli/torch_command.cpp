#include <boost/dll/import.hpp>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <functional>

#include "tedloc/cli/commands.hpp"
#include "tedloc/error.hpp"

namespace tedloc {

int torch_command(const std::string& name, const std::vector<std::string>& args) {
  using Entry = int(const std::string&, const std::vector<std::string>&);
  // Next to libtedloc_cli.so: both live in <build>/lib or <prefix>/lib.
  static const std::function<Entry> entry = [] {
    const std::filesystem::path file = boost::dll::this_line_location().parent_path() / "libtedloc_commands.so";
    std::error_code ec;
    boost::dll::shared_library library(file, ec);
    if (ec) throw InternalError(file.string() + ": cannot load the torch commands: " + ec.message());
    return std::function<Entry>(boost::dll::import<Entry>(library, "tedloc_torch_command"));
  }();
  return entry(name, args);
}

}  // namespace tedloc
