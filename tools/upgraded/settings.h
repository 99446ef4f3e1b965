// upgraded's settings: flags, else the environment (NOODLE_DATA,
// NOODLE_COMMANDS, NOODLE_EVENTS, NOODLE_REPLAY, NOODLE_SYNC,
// NOODLE_SNAPSHOT_EVERY, NOODLE_LOG_LEVEL, NOODLE_LOG_FORMAT, NOODLE_METRICS, NOODLE_PLUGIN_DIR,
// NOODLE_PLUGIN_TRIAL, NOODLE_MAX_RUNNING, NOODLE_WRITE_BUFFER_MB,
// NOODLE_HOOK_ROOTS (':'-separated), NOODLE_PLUGIN_REQUIRE_SHA256,
// NOODLE_TRUSTED_SIGNERS, NOODLE_KEYS, NOODLE_SERVER_KEY, NOODLE_MIN_FREE_MB),
// else a JSON config file (--config, same names in lower case without the
// prefix; also hook_roots as a list, allow_shell_hooks and
// require_signatures as booleans), else the defaults below. A config key
// this build does not know, a log level or a log format outside their lists
// is refused at start (exit 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace noodle::daemon {

struct Settings {
  std::string data = "./var/data";
  std::string commands = "tcp://127.0.0.1:7601";
  std::string events = "tcp://127.0.0.1:7602";
  std::string replay = "tcp://127.0.0.1:7603";
  std::string sync = "on";
  uint64_t snapshot_every = 10'000;
  std::string log_level = "info";    // trace, debug, info, warn, error, off (any case)
  std::string log_format = "text";   // text, logfmt, json (observe/log_format.h)
  std::string metrics;               // host:port serving GET /metrics; empty: none
  std::string dashboard;             // host:port serving the live dashboard; empty: none
  std::string plugin_dir;  // empty: no plugin host
  std::string plugin_trial = "on";
  uint32_t max_running = 64;
  uint64_t write_buffer_mb = 64;
  // Confinement and signatures (hook_executor.h, plugin/host.h, artifact_signature.h).
  std::vector<std::string> hook_roots;  // hook programs lie below one of them; none: no hook program runs
  bool allow_shell_hooks = false;       // shell lines run unconfined, as the daemon's user
  std::string plugin_require_sha256 = "on";
  std::string trusted_signers;          // file: one "<name> <public key hex>" per line
  bool require_signatures = false;      // every artifact signed by a trusted signer
  std::string keys;        // keys file: CURVE on every endpoint; empty: plaintext, loopback only
  std::string server_key;  // the daemon's CURVE pair; empty: <data>/server.key (created)
  bool insecure_plaintext_bind = false;
  // Faults (README "Faults").
  uint64_t min_free_mb = 64;   // below it new upgrades are refused; steps in flight go on
  double stop_grace_s = 5.0;  // SIGTERM: how long running steps may take to finish
  uint64_t event_queue_mb = 64;   // per subscriber that stops reading
  uint64_t event_live_max_kb = 4;  // larger events reach subscribers through replay
  uint64_t max_reply_kb = 1024;    // a larger query answer comes in pages
  // Anchored history (head_signer.h, startup_check.h); flags only.
  std::optional<uint64_t> sign_head_every;  // unset: HeadSignerOptions' default
  std::optional<double> sign_head_seconds;
  uint64_t verify_checkpoint_every = 100'000;
  bool inspect = false;
};


// Fills s from the command line, the environment and the config file.
// Returns -1 to go on, else the exit code (0 after --help; 2 for bad flags
// or a bad config file, with the reason on stderr).
int LoadSettings(int argc, char** argv, Settings* s);

}  // namespace noodle::daemon
