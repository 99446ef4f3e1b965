// Flag shapes every upgradectl command spells the same way: durations with
// their unit (30s, 500ms), and the output format.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace noodle::tools {

// Adds a duration option: a number and ms, s, m, h or d (500ms, 30s, 10m),
// or 0. A value without its unit is refused at parse time (exit 2), so a
// number can never be read in the wrong unit. *ns must outlive parsing.
CLI::Option* AddDurationOption(CLI::App* cmd, const std::string& name, int64_t* ns, const std::string& help);

}  // namespace noodle::tools
