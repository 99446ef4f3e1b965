#include "settings.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "json_input.h"
#include "version.h"
#include "noodle/observe/log_format.h"

namespace noodle::daemon {
namespace {

using Json = nlohmann::json;

template <typename T>
void FromEnv(const char* name, T* value) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return;
  if constexpr (std::is_same_v<T, std::string>) {
    *value = v;
  } else {
    try {
      *value = static_cast<T>(std::stoull(v));
    } catch (const std::exception&) {
      throw std::runtime_error(std::string(name) + "='" + v + "' is not a number");
    }
  }
}

// A config file key and how its value goes into the settings.
struct ConfigKey {
  const char* name;
  std::function<void(const Json&, Settings&)> apply;
};

template <typename T>
ConfigKey Key(const char* name, T Settings::*field) {
  return {name, [field](const Json& v, Settings& s) { s.*field = v.get<T>(); }};
}

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> keys = {
      Key("data_dir", &Settings::data),
      Key("commands", &Settings::commands),
      Key("events", &Settings::events),
      Key("replay", &Settings::replay),
      Key("sync", &Settings::sync),
      Key("snapshot_every", &Settings::snapshot_every),
      Key("log_level", &Settings::log_level),
      Key("log_format", &Settings::log_format),
      Key("metrics", &Settings::metrics),
      Key("dashboard", &Settings::dashboard),
      Key("plugin_dir", &Settings::plugin_dir),
      Key("max_running", &Settings::max_running),
      Key("write_buffer_mb", &Settings::write_buffer_mb),
      Key("plugin_trial", &Settings::plugin_trial),
      Key("hook_roots", &Settings::hook_roots),
      Key("allow_shell_hooks", &Settings::allow_shell_hooks),
      Key("plugin_require_sha256", &Settings::plugin_require_sha256),
      Key("trusted_signers", &Settings::trusted_signers),
      Key("require_signatures", &Settings::require_signatures),
      Key("keys", &Settings::keys),
      Key("server_key", &Settings::server_key),
      Key("min_free_mb", &Settings::min_free_mb),
      Key("stop_grace", &Settings::stop_grace_s),
      Key("event_queue_mb", &Settings::event_queue_mb),
      Key("event_live_max_kb", &Settings::event_live_max_kb),
      Key("max_reply_kb", &Settings::max_reply_kb),
  };
  return keys;
}

// "unknown key 'log_levle' (did you mean 'log_level'?)", or the valid keys
// when none is near.
std::string UnknownKey(const std::string& key) {
  std::vector<std::string_view> names;
  for (const auto& k : ConfigKeys()) names.emplace_back(k.name);
  return "unknown key '" + key + "' (" + tools::SuggestKey(key, names) + ")";
}

void ApplyConfigFile(const std::string& path, Settings& s) {
  Json j;
  if (Status st = tools::ReadJsonFile(path, &j); !st.ok()) throw std::runtime_error(st.message());
  if (!j.is_object()) throw std::runtime_error(path + ": expected a JSON object of settings");
  for (const auto& item : j.items()) {
    const std::string& key = item.key();  // a name, not a binding: the lambda below captures it
    const Json& value = item.value();
    const auto& keys = ConfigKeys();
    const auto k = std::find_if(keys.begin(), keys.end(), [&](const ConfigKey& c) { return key == c.name; });
    if (k == keys.end()) throw std::runtime_error(path + ": " + UnknownKey(key));
    try {
      k->apply(value, s);
    } catch (const Json::exception&) {  // a value of the wrong type; nlohmann's text names no key
      throw std::runtime_error(path + ": key '" + key + "': a " + value.type_name() + " is the wrong type here");
    }
  }
}

void ApplyEnvironment(Settings& s) {
  FromEnv("NOODLE_DATA_DIR", &s.data);
  FromEnv("NOODLE_COMMANDS", &s.commands);
  FromEnv("NOODLE_EVENTS", &s.events);
  FromEnv("NOODLE_REPLAY", &s.replay);
  FromEnv("NOODLE_SYNC", &s.sync);
  FromEnv("NOODLE_SNAPSHOT_EVERY", &s.snapshot_every);
  FromEnv("NOODLE_LOG_LEVEL", &s.log_level);
  FromEnv("NOODLE_LOG_FORMAT", &s.log_format);
  FromEnv("NOODLE_METRICS", &s.metrics);
  FromEnv("NOODLE_DASHBOARD", &s.dashboard);
  FromEnv("NOODLE_PLUGIN_DIR", &s.plugin_dir);
  FromEnv("NOODLE_MAX_RUNNING", &s.max_running);
  FromEnv("NOODLE_WRITE_BUFFER_MB", &s.write_buffer_mb);
  FromEnv("NOODLE_PLUGIN_TRIAL", &s.plugin_trial);
  if (const char* v = std::getenv("NOODLE_HOOK_ROOTS"); v != nullptr && *v != '\0') {  // ':'-separated
    s.hook_roots.clear();
    std::stringstream roots(v);
    for (std::string r; std::getline(roots, r, ':');) if (!r.empty()) s.hook_roots.push_back(r);
  }
  FromEnv("NOODLE_PLUGIN_REQUIRE_SHA256", &s.plugin_require_sha256);
  FromEnv("NOODLE_TRUSTED_SIGNERS", &s.trusted_signers);
  FromEnv("NOODLE_KEYS", &s.keys);
  FromEnv("NOODLE_SERVER_KEY", &s.server_key);
  FromEnv("NOODLE_MIN_FREE_MB", &s.min_free_mb);
}

// A flag given on the command line overrides the environment and the file:
// each option remembers how to copy its value into the settings.
class Flags {
 public:
  explicit Flags(CLI::App& app) : app_(app) {}
  template <typename T>
  CLI::Option* Add(const char* name, T Settings::*field, const char* help) {
    CLI::Option* o = app_.add_option(name, given_.*field, help);
    apply_.push_back([o, field, this](Settings& s) {
      if (*o) s.*field = given_.*field;
    });
    return o;
  }
  CLI::Option* Flag(const char* name, bool Settings::*field, const char* help) {
    CLI::Option* o = app_.add_flag(name, given_.*field, help);
    apply_.push_back([o, field](Settings& s) {
      if (*o) s.*field = true;
    });
    return o;
  }
  void ApplyTo(Settings& s) const {
    for (const auto& f : apply_) f(s);
  }

 private:
  CLI::App& app_;
  Settings given_;
  std::vector<std::function<void(Settings&)>> apply_;
};

void AddEngineFlags(Flags& f) {
  f.Add("--data-dir", &Settings::data, "data directory (the event log, snapshots, keys)");
  f.Add("--commands", &Settings::commands, "command endpoint (ROUTER)");
  f.Add("--events", &Settings::events, "event endpoint (PUB)");
  f.Add("--replay", &Settings::replay, "replay endpoint (ROUTER)");
  f.Add("--sync", &Settings::sync, "on: fsync every round (default); off: OS cache only")
      ->check(CLI::IsMember({"on", "off"}));
  f.Add("--snapshot-every", &Settings::snapshot_every, "events between projection snapshots");
  f.Add("--log-level", &Settings::log_level, "trace, debug, info (default), warn, error or off");
  f.Add("--log-format", &Settings::log_format,
        "text (default), logfmt or json: the form of every line the daemon logs on stderr");
  f.Add("--metrics", &Settings::metrics,
        "serve Prometheus metrics on GET http://HOST:PORT/metrics (e.g. 127.0.0.1:9464; port 0: a free one); "
        "default: not served");
  f.Add("--dashboard", &Settings::dashboard,
        "serve the read-only live dashboard on http://HOST:PORT/ (its own port; port 0: a free one); "
        "default: not served");
  f.Add("--write-buffer-mb", &Settings::write_buffer_mb,
        "RocksDB memtable size: memory (up to 3x) against flush frequency");
  f.Add("--max-running", &Settings::max_running, "upgrades running at once; more wait by priority");
  f.Add("--plugin-dir", &Settings::plugin_dir, "root of <plugin>/<version>/lib<plugin>.so: enables the plugin host");
  f.Add("--plugin-trial", &Settings::plugin_trial,
        "on: try each new plugin version in noodle-plugin-trial first (one process per swap); off: faster, a "
        "crashing plugin takes the daemon down")
      ->check(CLI::IsMember({"on", "off"}));
  f.Add("--min-free-mb", &Settings::min_free_mb,
        "refuse new upgrades and registrations while the data directory's filesystem has less than this free (0: "
        "never); upgrades in flight go on");
  f.Add("--stop-grace", &Settings::stop_grace_s,
        "seconds a SIGTERM waits for running steps to finish and be recorded; the rest are ended and recorded as "
        "interrupted at the next start")
      ->check(CLI::Range(0.0, 3600.0));
  f.Add("--event-queue-mb", &Settings::event_queue_mb,
        "memory at most per event subscriber that stops reading; past it, it refills from the replay endpoint");
  f.Add("--event-live-max-kb", &Settings::event_live_max_kb,
        "events larger than this are announced live and fetched from the replay endpoint");
  f.Add("--max-reply-kb", &Settings::max_reply_kb,
        "largest query reply; longer answers come in pages (below the bus's 4 MB frames)")
      ->check(CLI::Range(4, 4000));
}

void AddTrustFlags(Flags& f) {
  f.Add("--hook-root", &Settings::hook_roots,
        "directory hook programs must lie in (repeatable); without one no hook program runs")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  f.Flag("--allow-shell-hooks", &Settings::allow_shell_hooks,
         "DANGEROUS: run hooks' shell lines, unconfined, as the daemon's user (often root)");
  f.Add("--plugin-require-sha256", &Settings::plugin_require_sha256,
        "on (default): refuse a plugin library whose SHA-256 is not declared")
      ->check(CLI::IsMember({"on", "off"}));
  f.Add("--trusted-signers", &Settings::trusted_signers,
        "trusted artifact signers file ('<name> <Ed25519 public key hex>' per line, # comments)");
  f.Flag("--require-signatures", &Settings::require_signatures,
         "every artifact (hook component artifact, plugin library) needs a valid .sig by a trusted signer");
  f.Add("--keys", &Settings::keys,
        "keys file (<roles> <name> <Z85 public key> per line; reloaded on SIGHUP): CURVE on every endpoint");
  f.Add("--server-key", &Settings::server_key,
        "the daemon's CURVE key pair file (default: <data>/server.key, created on first start)");
  f.Flag("--insecure-plaintext-bind-non-loopback", &Settings::insecure_plaintext_bind,
         "DANGEROUS: without --keys, allow binding addresses other machines reach; anyone who reaches them can run "
         "upgrades");
  f.Add("--sign-head-every", &Settings::sign_head_every,
        "sign the chain head after this many events (a signature and a synced file write each)");
  f.Add("--sign-head-seconds", &Settings::sign_head_seconds,
        "sign the chain head after this many seconds when the log moved");
  f.Add("--verify-checkpoint-every", &Settings::verify_checkpoint_every,
        "events between chain-verified checkpoints (a restart re-verifies the chain from the last one)");
  f.Flag("--inspect", &Settings::inspect,
         "open the log read-only even when damaged: replay and audit only, commands refused");
}

// Values with a fixed list, whichever source gave them: a typo is refused
// rather than read as something else.
int CheckChoices(const Settings& s) {
  if (!observe::ParseLogLevel(s.log_level)) {
    std::cerr << "upgraded: log level '" << s.log_level << "' is not one of " << observe::kLogLevels << "\n";
    return 2;
  }
  if (!observe::ParseLogFormat(s.log_format)) {
    std::cerr << "upgraded: log format '" << s.log_format << "' is not one of " << observe::kLogFormats << "\n";
    return 2;
  }
  return -1;
}

}  // namespace

int LoadSettings(int argc, char** argv, Settings* s) {
  CLI::App app{"upgraded: the NoodleCore upgrade engine daemon"};
  app.set_version_flag("--version", noodle::tools::VersionLine("upgraded"));
  std::string config;
  app.add_option("--config", config,
                 "JSON config file (keys: data_dir, commands, events, replay, sync, snapshot_every, log_level, log_format, "
                 "metrics, ...; an unknown key is refused)");
  Flags flags(app);
  AddEngineFlags(flags);
  AddTrustFlags(flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (!config.empty()) ApplyConfigFile(config, *s);
    ApplyEnvironment(*s);
  } catch (const std::exception& e) {
    std::cerr << "upgraded: bad configuration: " << e.what() << "\n";
    return 2;
  }
  flags.ApplyTo(*s);
  return CheckChoices(*s);
}

}  // namespace noodle::daemon
