#include "tedloc/version.hpp"
namespace tedloc {
const char* version() { return TEDLOC_VERSION_STRING; }
}
