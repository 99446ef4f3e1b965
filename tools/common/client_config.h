// Where a client (upgradectl, upgrade-agent) finds the daemon and its keys.
// Precedence: command-line flags (applied by the caller over these values),
// then the environment, then the config file, then the daemon's defaults.
//
// Config file: $NOODLE_CLIENT_CONFIG, else ~/.config/noodlecore/client.json
// when it exists:
//   {"commands": "tcp://10.0.0.1:7601", "events": "...", "replay": "...",
//    "server_public_key": "<Z85 or a .pub file>", "client_key": "<key pair file>"}
// Environment: NOODLE_COMMANDS, NOODLE_EVENTS, NOODLE_REPLAY,
// NOODLE_SERVER_PUBLIC_KEY, NOODLE_CLIENT_KEY.
#pragma once

#include <string>

#include "noodle/bus/client.h"
#include "noodle/status.h"

namespace noodle::tools {

struct ClientConfig {
  std::string commands = "tcp://127.0.0.1:7601";
  std::string events = "tcp://127.0.0.1:7602";
  std::string replay = "tcp://127.0.0.1:7603";
  std::string server_public_key;  // Z85, or a file holding it; empty: plaintext
  std::string client_key;         // key pair file (upgradectl keys generate)
};

// The config file and the environment over the defaults. InvalidArgument
// when the config file exists but does not parse (naming it and why).
Status LoadClientConfig(ClientConfig* out);

// The CURVE keys the settings name: both or neither of server key and client
// key. InvalidArgument says which is missing or unreadable.
Result<bus::CurveClientKeys> CurveKeysOf(const ClientConfig& c);

}  // namespace noodle::tools
