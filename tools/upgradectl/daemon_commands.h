// upgradectl's commands against a running upgraded: component, upgrade,
// rollback, status, stats (daemon_commands.cc), and watch, events, audit
// (stream_commands.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace noodle::tools {

// Where the daemon is, and how to talk to it. Defaults come from
// NOODLE_COMMANDS / NOODLE_EVENTS / NOODLE_REPLAY, else the daemon's defaults.
struct DaemonFlags {
  std::string commands;
  std::string events;
  std::string replay;
  int timeout_ms = 5000;
  bool json = false;
  std::string actor;
};

// Endpoints from the environment, else the daemon's defaults.
std::shared_ptr<DaemonFlags> DefaultDaemonFlags();

// Adds --commands/--events/--replay/--timeout/--json/--actor to a subcommand.
void AddDaemonFlags(CLI::App* cmd, const std::shared_ptr<DaemonFlags>& flags);

void AddDaemonCommands(CLI::App& app, int* exit_code);
void AddStreamCommands(CLI::App& app, int* exit_code);

}  // namespace noodle::tools
