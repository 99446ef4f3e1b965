// upgradectl's commands against a running upgraded: component, upgrade,
// rollback (rollback_commands.cc), status, stats (daemon_commands.cc), and watch, events, audit
// (stream_commands.cc).
#pragma once

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
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
  int64_t request_timeout_ns = 5'000'000'000;  // --request-timeout: each reply
  bool json = false;  // -o json, --json
  bool wide = false;  // -o wide: tables with more columns
  std::string actor;
  std::string server_key;  // the daemon's public key (Z85 or a file); empty: plaintext
  std::string key;         // this client's key pair file
  Status config_error;     // the client config did not load: commands refuse to run

  int timeout_ms() const { return static_cast<int>(std::min<int64_t>(request_timeout_ns / 1'000'000, INT32_MAX)); }
};

// Endpoints and keys from the client config, else the daemon's defaults.
std::shared_ptr<DaemonFlags> DefaultDaemonFlags();

// Adds --commands/--events/--replay/--request-timeout/-o/--json/--actor/--server-key/--key to a subcommand.
void AddDaemonFlags(CLI::App* cmd, const std::shared_ptr<DaemonFlags>& flags);

// The CURVE keys the flags name (none: plaintext); InvalidArgument when
// they are incomplete or unreadable, or the client config did not load.
Result<bus::CurveClientKeys> CurveOf(const DaemonFlags& flags);

void AddDaemonCommands(CLI::App& app, int* exit_code);
// rollback point NAME, rollback to (rollback_commands.cc).
void AddRollbackCommands(CLI::App& app, const std::shared_ptr<DaemonFlags>& flags, int* exit_code);
void AddStreamCommands(CLI::App& app, int* exit_code);

}  // namespace noodle::tools
