#include "tedloc/version.hpp"
#include <cstdio>
int main() { std::printf("tedloc %s\n", tedloc::version()); }
