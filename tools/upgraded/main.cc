// upgraded: the engine daemon. The event log on a data directory, the engine
// with the hook executor, and the bus endpoints around it.
//
// Settings come from flags, else the environment (NOODLE_DATA,
// NOODLE_COMMANDS, NOODLE_EVENTS, NOODLE_REPLAY, NOODLE_SYNC,
// NOODLE_SNAPSHOT_EVERY, NOODLE_LOG_LEVEL, NOODLE_PLUGIN_DIR,
// NOODLE_PLUGIN_TRIAL, NOODLE_MAX_RUNNING, NOODLE_WRITE_BUFFER_MB), else a
// JSON config file
// (--config, same names in lower case without the prefix), else defaults.
// SIGTERM/SIGINT: finish the round in progress, close RocksDB, exit 0.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
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
#include "wiring.h"

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
  // Logs on stderr; stdout carries only the "ready" line scripts wait for.
  spdlog::set_default_logger(spdlog::stderr_color_mt("upgraded"));
  spdlog::set_level(spdlog::level::from_str(s.log_level));

  // Signals go to the main thread's sigwait only; every thread started
  // from here inherits the block.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::error_code ec;
  std::filesystem::create_directories(s.data, ec);
  store::LogOptions lo;
  lo.durability = s.sync == "off" ? store::Durability::kNoSync : store::Durability::kSync;
  lo.write_buffer_bytes = std::max<uint64_t>(1, s.write_buffer_mb) << 20;
  std::unique_ptr<store::EventLog> log;
  if (Status st = store::EventLog::Open(s.data + "/log", lo, &log); !st.ok()) {
    if (st.IsBusy()) {
      std::cerr << "upgraded: another process holds " << s.data << " (" << st.message() << ")\n";
    } else {
      std::cerr << "upgraded: cannot open the log in " << s.data << ": " << st.ToString() << "\n";
    }
    return 1;
  }
  auto hooks = engine::NewHookExecutor();
  std::unique_ptr<plugin::Host> plugin_host;
  std::unique_ptr<engine::Executor> plugins;
  if (!s.plugin_dir.empty()) {
    plugin::HostOptions ho;
    ho.plugin_dir = s.plugin_dir;
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
  engine::EngineOptions eo;
  eo.snapshot_every = s.snapshot_every;
  eo.limits.max_running = std::max<uint32_t>(1, s.max_running);
  std::unique_ptr<engine::Engine> eng;
  if (Status st = engine::Engine::Open(log.get(), executor.get(), &publisher, eo, &eng); !st.ok()) {
    std::cerr << "upgraded: cannot start the engine: " << st.ToString() << "\n";
    return 1;
  }
  bus::ServerOptions so;
  so.command_endpoint = s.commands;
  so.event_endpoint = s.events;
  so.replay_endpoint = s.replay;
  std::unique_ptr<bus::Server> server;
  if (Status st = bus::Server::Start(so, daemon::EngineHandler(eng.get()), daemon::LogReplay(log.get()), &server); !st.ok()) {
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
  sigwait(&stop_signals, &sig);
  spdlog::info("upgraded: {} received; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server->Stop();
  publisher.server = nullptr;
  eng->Stop();
  eng.reset();
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
