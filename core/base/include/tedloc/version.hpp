#pragma once
// The workbench's version, and the git revision it was built from (recorded with every run).
#define TEDLOC_VERSION_STRING "0.1.0"
namespace tedloc {
const char* version();
// The revision as of configure time ("-dirty" with uncommitted changes; "unknown" outside a git checkout).
const char* git_revision();
}  // namespace tedloc
