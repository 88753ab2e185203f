#include "tedloc/version.hpp"
namespace tedloc {
const char* version() { return TEDLOC_VERSION_STRING; }
const char* git_revision() { return TEDLOC_GIT_REVISION; }
}  // namespace tedloc
