// upgradectl keys: CURVE key pairs for the bus.
#pragma once

#include <CLI/CLI.hpp>

namespace noodle::tools {

void AddKeyCommands(CLI::App& app, int* exit_code);

}  // namespace noodle::tools
