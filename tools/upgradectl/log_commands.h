// `upgradectl log ...`: offline work on a log directory.
#pragma once

#include <CLI/CLI.hpp>

namespace noodle::tools {

inline constexpr const char* kLogCommandsHelp = "Work offline on the event log of a data directory";

// Adds the `log` subcommand tree to app. The chosen command stores its exit
// code in *exit_code when it runs.
void AddLogCommands(CLI::App& app, int* exit_code);

}  // namespace noodle::tools
