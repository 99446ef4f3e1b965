// Every program's --version: the project's version (CMake's
// project(VERSION)) and, in a build from a git checkout, `git describe` of
// the commit it was built from.
#pragma once

#include <string>
#include <string_view>

namespace noodle::tools {

// "<program> <version>", e.g. "upgraded 0.1.0 (git ec4a39c-dirty)".
std::string VersionLine(std::string_view program);

// For programs that parse their arguments by hand: when argv[1] is
// --version, prints VersionLine(program) on stdout and returns true.
bool PrintVersionIfAsked(int argc, char** argv, std::string_view program);

}  // namespace noodle::tools
