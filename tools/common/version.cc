#include "version.h"

#include <cstring>
#include <iostream>

#include "noodle_build_version.h"  // generated at every build (build_version.cmake)

namespace noodle::tools {

std::string VersionLine(std::string_view program) { return std::string(program) + " " + NOODLE_BUILD_VERSION; }

bool PrintVersionIfAsked(int argc, char** argv, std::string_view program) {
  if (argc < 2 || std::strcmp(argv[1], "--version") != 0) return false;
  std::cout << VersionLine(program) << "\n";
  return true;
}

}  // namespace noodle::tools
