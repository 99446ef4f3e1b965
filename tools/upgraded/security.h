// The daemon's trust settings: its data directory's permissions, CURVE on the
// bus (keys file, server key pair) and what may be bound without it.
#pragma once

#include <string>

#include "noodle/bus/server.h"
#include "noodle/status.h"

namespace noodle::daemon {

// Creates the data directory 0700 if missing. InvalidArgument when it exists
// and is writable by group or others or is owned by another user: whoever can
// write it can rewrite the log.
Status PrepareDataDir(const std::string& dir);

// A file the daemon trusts (keys, trusted signers): InvalidArgument when it
// or a directory above it could be replaced by another user (group/other
// writable, or owned by someone else; sticky directories such as /tmp pass).
Status CheckTrustedFile(const std::string& path, const std::string& what);

// With a keys file: loads it (every line checked) into a new KeyRing and the
// server's key pair from server_key_file, which is created (0600, with a .pub
// beside it) when missing; every endpoint then speaks CURVE.
// Without: every endpoint must be loopback or ipc (bus::IsLoopbackEndpoint)
// unless allow_plaintext_remote is set, which is logged loudly.
// InvalidArgument says what is wrong and what to do.
Status ConfigureBusSecurity(const std::string& keys_file, const std::string& server_key_file,
                            bool allow_plaintext_remote, bus::ServerOptions* options);

// SIGHUP: reads the keys file again. A file that does not parse changes
// nothing (logged). When keys were removed, subscribers re-authenticate.
void ReloadKeys(const std::string& keys_file, bus::KeyRing* ring, bus::Server* server);

}  // namespace noodle::daemon
