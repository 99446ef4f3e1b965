// upgradectl's commands against a running upgraded: component, upgrade,
// rollback (rollback_commands.cc), status, stats (daemon_commands.cc), and watch, events, audit
// (stream_commands.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "noodle/bus/client.h"
#include "noodle/status.h"

namespace noodle::tools {

// Where the daemon is, and how to talk to it. Defaults come from the client
// config (tools/common/client_config.h: config file, then environment).
struct DaemonFlags {
  std::string commands;
  std::string events;
  std::string replay;
  int timeout_ms = 5000;
  bool json = false;
  std::string actor;
  std::string server_key;  // the daemon's public key (Z85 or a file); empty: plaintext
  std::string key;         // this client's key pair file
  Status config_error;     // the client config did not load: commands refuse to run
};

// Endpoints and keys from the client config, else the daemon's defaults.
std::shared_ptr<DaemonFlags> DefaultDaemonFlags();

// Adds --commands/--events/--replay/--timeout/--json/--actor/--server-key/--key to a subcommand.
void AddDaemonFlags(CLI::App* cmd, const std::shared_ptr<DaemonFlags>& flags);

// The CURVE keys the flags name (none: plaintext); InvalidArgument when
// they are incomplete or unreadable, or the client config did not load.
Result<bus::CurveClientKeys> CurveOf(const DaemonFlags& flags);

void AddDaemonCommands(CLI::App& app, int* exit_code);
// rollback point NAME, rollback to (rollback_commands.cc).
void AddRollbackCommands(CLI::App& app, const std::shared_ptr<DaemonFlags>& flags, int* exit_code);
void AddStreamCommands(CLI::App& app, int* exit_code);

}  // namespace noodle::tools
