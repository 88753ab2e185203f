#pragma once
#define TEDLOC_VERSION_STRING "0.1.0"
namespace tedloc {
const char* version();
}
