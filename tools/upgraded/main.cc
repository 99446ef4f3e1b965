// upgraded: the engine daemon. The event log on a data directory, the engine
// with the hook executor, and the bus endpoints around it.
//
// Settings come from flags, else the environment (NOODLE_DATA,
// NOODLE_COMMANDS, NOODLE_EVENTS, NOODLE_REPLAY, NOODLE_SYNC,
// NOODLE_SNAPSHOT_EVERY, NOODLE_LOG_LEVEL, NOODLE_PLUGIN_DIR,
// NOODLE_PLUGIN_TRIAL, NOODLE_MAX_RUNNING, NOODLE_WRITE_BUFFER_MB,
// NOODLE_HOOK_ROOTS (':'-separated), NOODLE_PLUGIN_REQUIRE_SHA256,
// NOODLE_TRUSTED_SIGNERS), else a JSON config file (also hook_roots as a
// list, allow_shell_hooks and require_signatures as booleans)
// (--config, same names in lower case without the prefix), else defaults.
// SIGTERM/SIGINT: finish the round in progress, close RocksDB, exit 0.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "noodle/bus/server.h"
#include "noodle/engine/engine.h"
#include "noodle/engine/agent_executor.h"
#include "noodle/engine/executor_by_kind.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/plugin/executor.h"
#include "noodle/store/event_log.h"
#include "security.h"
#include "head_signer.h"
#include "startup_check.h"
#include "noodle/engine/bus_wiring.h"

namespace {

using namespace noodle;

struct Settings {
  std::string data = "./var/data";
  std::string commands = "tcp://127.0.0.1:7601";
  std::string events = "tcp://127.0.0.1:7602";
  std::string replay = "tcp://127.0.0.1:7603";
  std::string sync = "on";
  uint64_t snapshot_every = 10'000;
  std::string log_level = "info";
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
};

template <typename T>
void FromEnv(const char* name, T* value) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return;
  if constexpr (std::is_same_v<T, std::string>) *value = v;
  else *value = static_cast<T>(std::stoull(v));
}

}  // namespace

int main(int argc, char** argv) {
  Settings s;
  std::string config;
  CLI::App app{"upgraded: the NoodleCore upgrade engine daemon"};
  Settings flags;
  app.add_option("--config", config, "JSON config file (keys: data, commands, events, replay, sync, snapshot_every, log_level)");
  auto* o_data = app.add_option("--data", flags.data, "data directory (the event log)");
  auto* o_cmd = app.add_option("--commands", flags.commands, "command endpoint (ROUTER)");
  auto* o_ev = app.add_option("--events", flags.events, "event endpoint (PUB)");
  auto* o_rp = app.add_option("--replay", flags.replay, "replay endpoint (ROUTER)");
  auto* o_sync = app.add_option("--sync", flags.sync, "on: fsync every round (default); off: OS cache only")->check(CLI::IsMember({"on", "off"}));
  auto* o_snap = app.add_option("--snapshot-every", flags.snapshot_every, "events between projection snapshots");
  auto* o_log = app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error");
  auto* o_wb = app.add_option("--write-buffer-mb", flags.write_buffer_mb,
                               "RocksDB memtable size: memory (up to 3x) against flush frequency");
  auto* o_running = app.add_option("--max-running", flags.max_running, "upgrades running at once; more wait by priority");
  auto* o_plugins = app.add_option("--plugin-dir", flags.plugin_dir, "root of <plugin>/<version>/lib<plugin>.so: enables the plugin host");
  auto* o_trial = app.add_option("--plugin-trial", flags.plugin_trial,
                                 "on: try each new plugin version in noodle-plugin-trial first (one process per swap); off: faster, a crashing plugin takes the daemon down")
                      ->check(CLI::IsMember({"on", "off"}));
  auto* o_hook_root = app.add_option("--hook-root", flags.hook_roots,
                                     "directory hook programs must lie in (repeatable); without one no hook program runs")
                         ->expected(1)
                         ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* o_shell = app.add_flag("--allow-shell-hooks", flags.allow_shell_hooks,
                               "DANGEROUS: run hooks' shell lines, unconfined, as the daemon's user (often root)");
  auto* o_sha = app.add_option("--plugin-require-sha256", flags.plugin_require_sha256,
                               "on (default): refuse a plugin library whose SHA-256 is not declared")
                    ->check(CLI::IsMember({"on", "off"}));
  auto* o_signers = app.add_option("--trusted-signers", flags.trusted_signers,
                                   "trusted artifact signers file ('<name> <Ed25519 public key hex>' per line, # comments)");
  auto* o_req_sig = app.add_flag("--require-signatures", flags.require_signatures,
                                 "every artifact (hook component artifact, plugin library) needs a valid .sig by a trusted signer");
  auto* o_keys = app.add_option("--keys", flags.keys,
                                "keys file (<roles> <name> <Z85 public key> per line; reloaded on SIGHUP): CURVE on every endpoint");
  auto* o_min_free = app.add_option("--min-free-mb", flags.min_free_mb,
                                    "refuse new upgrades and registrations while the data directory's filesystem has "
                                    "less than this free (0: never); upgrades in flight go on");
  auto* o_grace = app.add_option("--stop-grace", flags.stop_grace_s,
                                 "seconds a SIGTERM waits for running steps to finish and be recorded; the rest are "
                                 "ended and recorded as interrupted at the next start")
                      ->check(CLI::Range(0.0, 3600.0));
  auto* o_queue = app.add_option("--event-queue-mb", flags.event_queue_mb,
                                 "memory at most per event subscriber that stops reading; past it, it refills "
                                 "from the replay endpoint");
  auto* o_live = app.add_option("--event-live-max-kb", flags.event_live_max_kb,
                                "events larger than this are announced live and fetched from the replay endpoint");
  auto* o_reply = app.add_option("--max-reply-kb", flags.max_reply_kb,
                                 "largest query reply; longer answers come in pages (below the bus's 4 MB frames)")
                      ->check(CLI::Range(4, 4000));
  auto* o_server_key = app.add_option("--server-key", flags.server_key,
                                      "the daemon's CURVE key pair file (default: <data>/server.key, created on first start)");
  app.add_flag("--insecure-plaintext-bind-non-loopback", flags.insecure_plaintext_bind,
               "DANGEROUS: without --keys, allow binding addresses other machines reach; anyone who reaches them "
               "can run upgrades");
  // Anchored history (head_signer.h, startup_check.h).
  daemon::HeadSignerOptions head_opts;
  uint64_t verify_checkpoint_every = 100'000;
  bool inspect = false;
  app.add_option("--sign-head-every", head_opts.every_events,
                 "sign the chain head after this many events (a signature and a synced file write each)");
  app.add_option("--sign-head-seconds", head_opts.every_seconds,
                 "sign the chain head after this many seconds when the log moved");
  app.add_option("--verify-checkpoint-every", verify_checkpoint_every,
                 "events between chain-verified checkpoints (a restart re-verifies the chain from the last one)");
  app.add_flag("--inspect", inspect, "open the log read-only even when damaged: replay and audit only, commands refused");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (!config.empty()) {
      std::ifstream in(config);
      if (!in) throw std::runtime_error("cannot read " + config);
      const auto j = nlohmann::json::parse(in);
      s.data = j.value("data", s.data);
      s.commands = j.value("commands", s.commands);
      s.events = j.value("events", s.events);
      s.replay = j.value("replay", s.replay);
      s.sync = j.value("sync", s.sync);
      s.snapshot_every = j.value("snapshot_every", s.snapshot_every);
      s.log_level = j.value("log_level", s.log_level);
      s.plugin_dir = j.value("plugin_dir", s.plugin_dir);
      s.max_running = j.value("max_running", s.max_running);
      s.write_buffer_mb = j.value("write_buffer_mb", s.write_buffer_mb);
      s.plugin_trial = j.value("plugin_trial", s.plugin_trial);
      s.hook_roots = j.value("hook_roots", s.hook_roots);
      s.allow_shell_hooks = j.value("allow_shell_hooks", s.allow_shell_hooks);
      s.plugin_require_sha256 = j.value("plugin_require_sha256", s.plugin_require_sha256);
      s.trusted_signers = j.value("trusted_signers", s.trusted_signers);
      s.require_signatures = j.value("require_signatures", s.require_signatures);
      s.keys = j.value("keys", s.keys);
      s.server_key = j.value("server_key", s.server_key);
      s.min_free_mb = j.value("min_free_mb", s.min_free_mb);
      s.stop_grace_s = j.value("stop_grace", s.stop_grace_s);
      s.event_queue_mb = j.value("event_queue_mb", s.event_queue_mb);
      s.event_live_max_kb = j.value("event_live_max_kb", s.event_live_max_kb);
      s.max_reply_kb = j.value("max_reply_kb", s.max_reply_kb);
    }
    FromEnv("NOODLE_DATA", &s.data);
    FromEnv("NOODLE_COMMANDS", &s.commands);
    FromEnv("NOODLE_EVENTS", &s.events);
    FromEnv("NOODLE_REPLAY", &s.replay);
    FromEnv("NOODLE_SYNC", &s.sync);
    FromEnv("NOODLE_SNAPSHOT_EVERY", &s.snapshot_every);
    FromEnv("NOODLE_LOG_LEVEL", &s.log_level);
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
  } catch (const std::exception& e) {
    std::cerr << "upgraded: bad configuration: " << e.what() << "\n";
    return 2;
  }
  if (*o_data) s.data = flags.data;
  if (*o_cmd) s.commands = flags.commands;
  if (*o_ev) s.events = flags.events;
  if (*o_rp) s.replay = flags.replay;
  if (*o_sync) s.sync = flags.sync;
  if (*o_snap) s.snapshot_every = flags.snapshot_every;
  if (*o_log) s.log_level = flags.log_level;
  if (*o_plugins) s.plugin_dir = flags.plugin_dir;
  if (*o_running) s.max_running = flags.max_running;
  if (*o_wb) s.write_buffer_mb = flags.write_buffer_mb;
  if (*o_trial) s.plugin_trial = flags.plugin_trial;
  if (*o_hook_root) s.hook_roots = flags.hook_roots;
  if (*o_shell) s.allow_shell_hooks = true;
  if (*o_sha) s.plugin_require_sha256 = flags.plugin_require_sha256;
  if (*o_signers) s.trusted_signers = flags.trusted_signers;
  if (*o_req_sig) s.require_signatures = true;
  if (*o_keys) s.keys = flags.keys;
  if (*o_server_key) s.server_key = flags.server_key;
  if (*o_min_free) s.min_free_mb = flags.min_free_mb;
  if (*o_grace) s.stop_grace_s = flags.stop_grace_s;
  if (*o_queue) s.event_queue_mb = flags.event_queue_mb;
  if (*o_live) s.event_live_max_kb = flags.event_live_max_kb;
  if (*o_reply) s.max_reply_kb = flags.max_reply_kb;
  s.insecure_plaintext_bind = flags.insecure_plaintext_bind;
  // Logs on stderr; stdout carries only the "ready" line scripts wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("upgraded"));
  spdlog::set_level(spdlog::level::from_str(s.log_level));

  // Signals go to the main thread's sigwait only; every thread started
  // from here inherits the block.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (Status st = daemon::PrepareDataDir(s.data); !st.ok()) {
    std::cerr << "upgraded: " << st.message() << "\n";
    return 2;
  }
  bus::ServerOptions so;
  so.command_endpoint = s.commands;
  so.event_endpoint = s.events;
  so.replay_endpoint = s.replay;
  so.event_queue_bytes_per_subscriber = std::max<uint64_t>(1, s.event_queue_mb) << 20;
  so.event_live_max_bytes = std::max<uint64_t>(1, s.event_live_max_kb) << 10;
  if (Status st = daemon::ConfigureBusSecurity(s.keys, s.server_key.empty() ? s.data + "/server.key" : s.server_key,
                                               s.insecure_plaintext_bind, &so);
      !st.ok()) {
    std::cerr << "upgraded: " << st.message() << "\n";
    return 2;
  }
  store::LogOptions lo;
  lo.durability = s.sync == "off" ? store::Durability::kNoSync : store::Durability::kSync;
  lo.write_buffer_bytes = std::max<uint64_t>(1, s.write_buffer_mb) << 20;
  if (inspect) lo.mode = store::OpenMode::kReadOnly;
  std::unique_ptr<store::EventLog> log;
  if (Status st = store::EventLog::Open(s.data + "/log", lo, &log); !st.ok()) {
    if (st.IsBusy()) {
      std::cerr << "upgraded: another process holds " << s.data << " (" << st.message() << ")\n";
    } else {
      std::cerr << "upgraded: cannot open the log in " << s.data << ": " << st.ToString() << "\n";
    }
    if (st.IsCorruption()) std::cerr << "upgraded: refusing to start on a damaged log (--inspect serves it read-only)\n";
    return st.IsCorruption() ? 4 : 1;
  }
  // Before anything is appended: the chain since the last verified
  // checkpoint, and the log against the newest signed head.
  std::optional<store::HeadKey> head_key;
  Status damage;
  if (int rc = daemon::CheckBeforeStart(log.get(), s.data, inspect, {verify_checkpoint_every, !inspect}, &head_key, &damage); rc != 0) {
    return rc;
  }
  // Hook roots are resolved now: a typo fails the start, not every upgrade.
  engine::HookExecutorOptions hook_options;
  std::vector<std::string> lexical_roots;  // as the decider compares them (absolute, and resolved)
  for (const auto& r : s.hook_roots) {
    std::error_code root_ec;
    const auto real = std::filesystem::canonical(r, root_ec);
    if (root_ec || !std::filesystem::is_directory(real)) {
      std::cerr << "upgraded: --hook-root " << r << " is not a directory\n";
      return 2;
    }
    hook_options.hook_roots.push_back(real.string());
    lexical_roots.push_back(std::filesystem::absolute(r).lexically_normal().string());
    lexical_roots.push_back(real.string());
  }
  hook_options.allow_shell = s.allow_shell_hooks;
  hook_options.require_signatures = s.require_signatures;
  if (!s.trusted_signers.empty()) {
    if (Status st = daemon::CheckTrustedFile(s.trusted_signers, "trusted signers file"); !st.ok()) {
      std::cerr << "upgraded: " << st.message() << "\n";
      return 2;
    }
    auto trusted = engine::signing::LoadTrustedSigners(s.trusted_signers);
    if (!trusted.ok()) {
      std::cerr << "upgraded: --trusted-signers: " << trusted.status().message() << "\n";
      return 2;
    }
    hook_options.trusted_signers = trusted.value();
  }
  if (s.allow_shell_hooks) spdlog::warn("upgraded: --allow-shell-hooks: hook shell lines run unconfined as this daemon's user");
  if (s.hook_roots.empty()) spdlog::info("upgraded: no --hook-root: hook programs will be refused");
  auto hooks = engine::NewHookExecutor(hook_options);
  std::unique_ptr<plugin::Host> plugin_host;
  std::unique_ptr<engine::Executor> plugins;
  if (!s.plugin_dir.empty()) {
    plugin::HostOptions ho;
    ho.plugin_dir = s.plugin_dir;
    ho.require_sha256 = s.plugin_require_sha256 != "off";
    ho.require_signatures = s.require_signatures;
    ho.trusted_signers = hook_options.trusted_signers;
    // The trial program is installed beside upgraded.
    if (s.plugin_trial != "off") {
      ho.trial_program = (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "noodle-plugin-trial").string();
    }
    plugin_host = std::make_unique<plugin::Host>(ho);
    plugins = plugin::NewPluginExecutor(plugin_host.get());
  }
  auto agents = engine::NewAgentExecutor();
  auto executor = engine::NewExecutorByKind(
      {{fb::ExecutorKind::Hook, hooks.get()}, {fb::ExecutorKind::Plugin, plugins.get()}, {fb::ExecutorKind::Agent, agents.get()}});
  daemon::BusPublisher publisher;
  std::unique_ptr<daemon::HeadSigner> signer;
  if (!inspect) {
    head_opts.head_path = s.data + "/head.signed";
    head_opts.checkpoint_every = verify_checkpoint_every;
    signer = std::make_unique<daemon::HeadSigner>(log.get(), std::move(*head_key), head_opts, [&publisher](const std::string& h) {
      if (bus::Server* srv = publisher.server.load()) srv->PublishHead(h);
    });
    if (Status st = signer->Start(log->LastSeq()); !st.ok()) {
      std::cerr << "upgraded: cannot sign the chain head: " << st.ToString() << "\n";
      return 1;
    }
  }
  daemon::HeadFanOut fanout(&publisher, signer.get());
  engine::EngineOptions eo;
  eo.snapshot_every = s.snapshot_every;
  eo.limits.max_running = std::max<uint32_t>(1, s.max_running);
  eo.limits.hook_roots = lexical_roots;  // refuse at registration what the hook executor would refuse
  eo.limits.allow_shell_hooks = s.allow_shell_hooks;
  eo.min_free_bytes = s.min_free_mb << 20;
  eo.max_reply_bytes = s.max_reply_kb << 10;
  std::unique_ptr<engine::Engine> eng;
  if (Status st = inspect ? Status::OK() : engine::Engine::Open(log.get(), executor.get(), &fanout, eo, &eng); !st.ok()) {
    std::cerr << "upgraded: cannot start the engine: " << st.ToString() << "\n";
    return 1;
  }
  so.head_source = [&signer, path = s.data + "/head.signed"] {
    if (signer) return signer->Latest();
    auto head = store::ReadWholeFile(path);  // --inspect: the head as found
    return head.ok() ? head.value() : std::string();
  };
  // --inspect answers every command with why it cannot run.
  const std::string inspect_why = "read-only inspection: " + (damage.ok() ? std::string("the log is open read-only (--inspect)")
                                                                          : "the log is damaged at seq " +
                                                                                (damage.seq() ? std::to_string(*damage.seq()) : std::string("?")) +
                                                                                " (" + damage.message() + ")");
  std::unique_ptr<bus::Server> server;
  if (Status st = bus::Server::Start(so, inspect ? daemon::RefuseCommands(inspect_why) : daemon::EngineHandler(eng.get()), daemon::LogReplay(log.get()), &server); !st.ok()) {
    std::cerr << "upgraded: " << st.ToString() << "\n";
    return 1;
  }
  publisher.server = server.get();
  spdlog::info("upgraded: data {} (sync {}), commands {}, events {}, replay {}; {} events in the log", s.data, s.sync,
               server->command_endpoint(), server->event_endpoint(), server->replay_endpoint(), log->LastSeq());
  // One line on stdout that scripts can wait for.
  std::cout << "ready " << server->command_endpoint() << " " << server->event_endpoint() << " "
            << server->replay_endpoint() << std::endl;

  int sig = 0;
  while (sigwait(&stop_signals, &sig) == 0 && sig == SIGHUP) {
    if (s.keys.empty()) {
      spdlog::warn("upgraded: SIGHUP: no keys file to reload");
      continue;
    }
    daemon::ReloadKeys(s.keys, so.keyring.get(), server.get());
  }
  spdlog::info("upgraded: {} received; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  // The bus serves on while running steps finish: their events are published.
  if (eng) eng->Stop(std::chrono::milliseconds(static_cast<int64_t>(s.stop_grace_s * 1000)));
  server->Stop();
  publisher.server = nullptr;
  eng.reset();
  if (signer) signer->Stop();  // signs the final head
  executor.reset();
  plugins.reset();
  hooks.reset();
  agents.reset();
  plugin_host.reset();
  server.reset();
  log.reset();
  spdlog::info("upgraded: stopped cleanly");
  return 0;
}
