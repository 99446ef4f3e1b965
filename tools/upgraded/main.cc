// upgraded: the engine daemon. The event log on a data directory, the engine
// with its executors, and the bus endpoints around it. Settings: settings.h.
// SIGTERM/SIGINT: running steps get --stop-grace to finish, then the round
// in progress ends, RocksDB closes, exit 0. SIGHUP: reload the keys file.
#include <malloc.h>
#include <signal.h>

#include <filesystem>
#include <iostream>
#include <spdlog/spdlog.h>

#include "head_signer.h"
#include "noodle/bus/server.h"
#include "noodle/engine/agent_executor.h"
#include "noodle/engine/bus_wiring.h"
#include "noodle/engine/engine.h"
#include "noodle/engine/executor_by_kind.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/observe/log_format.h"
#include "noodle/observe/observability.h"
#include "noodle/plugin/executor.h"
#include "noodle/store/event_log.h"
#include "security.h"
#include "serve_dashboard.h"
#include "service_notify.h"
#include "settings.h"
#include "startup_check.h"

namespace {

using namespace noodle;
using daemon::Settings;

int Refuse(const std::string& why, int rc = 2) {
  std::cerr << "upgraded: " << why << "\n";
  return rc;
}

int ConfigureBus(const Settings& s, bus::ServerOptions* so) {
  so->command_endpoint = s.commands;
  so->event_endpoint = s.events;
  so->replay_endpoint = s.replay;
  so->event_queue_bytes_per_subscriber = std::max<uint64_t>(1, s.event_queue_mb) << 20;
  so->event_live_max_bytes = std::max<uint64_t>(1, s.event_live_max_kb) << 10;
  const std::string server_key = s.server_key.empty() ? s.data + "/server.key" : s.server_key;
  if (Status st = daemon::ConfigureBusSecurity(s.keys, server_key, s.insecure_plaintext_bind, so); !st.ok()) {
    return Refuse(st.message());
  }
  return -1;
}

int OpenLog(const Settings& s, std::unique_ptr<store::EventLog>* log) {
  store::LogOptions lo;
  lo.durability = s.sync == "off" ? store::Durability::kNoSync : store::Durability::kSync;
  lo.write_buffer_bytes = std::max<uint64_t>(1, s.write_buffer_mb) << 20;
  if (s.inspect) lo.mode = store::OpenMode::kReadOnly;
  Status st = store::EventLog::Open(s.data + "/log", lo, log);
  if (st.ok()) return -1;
  if (st.IsBusy()) return Refuse("another process holds " + s.data + " (" + st.message() + ")", 1);
  std::cerr << "upgraded: cannot open the log in " << s.data << ": " << st.ToString() << "\n";
  if (!st.IsCorruption()) return 1;
  return Refuse("refusing to start on a damaged log (--inspect serves it read-only)", 4);
}

// Hook roots are resolved now: a typo fails the start, not every upgrade.
// lexical_roots: as the decider compares them (absolute, and resolved).
int HookOptions(const Settings& s, engine::HookExecutorOptions* o, std::vector<std::string>* lexical_roots) {
  for (const auto& r : s.hook_roots) {
    std::error_code ec;
    const auto real = std::filesystem::canonical(r, ec);
    if (ec || !std::filesystem::is_directory(real)) return Refuse("--hook-root " + r + " is not a directory");
    o->hook_roots.push_back(real.string());
    lexical_roots->push_back(std::filesystem::absolute(r).lexically_normal().string());
    lexical_roots->push_back(real.string());
  }
  o->allow_shell = s.allow_shell_hooks;
  o->require_signatures = s.require_signatures;
  if (!s.trusted_signers.empty()) {
    if (Status st = daemon::CheckTrustedFile(s.trusted_signers, "trusted signers file"); !st.ok()) {
      return Refuse(st.message());
    }
    auto trusted = engine::signing::LoadTrustedSigners(s.trusted_signers);
    if (!trusted.ok()) return Refuse("--trusted-signers: " + trusted.status().message());
    o->trusted_signers = trusted.value();
  }
  if (s.allow_shell_hooks) spdlog::warn("upgraded: --allow-shell-hooks: hook shell lines run unconfined as this daemon's user");
  if (s.hook_roots.empty()) spdlog::info("upgraded: no --hook-root: hook programs will be refused");
  return -1;
}

// The executors by kind: hooks always, plugins with --plugin-dir, agents.
struct Executors {
  std::unique_ptr<engine::Executor> hooks, plugins, agents, by_kind;
  std::unique_ptr<plugin::Host> plugin_host;

  Executors(const Settings& s, const engine::HookExecutorOptions& hook_options) {
    hooks = engine::NewHookExecutor(hook_options);
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
    agents = engine::NewAgentExecutor();
    by_kind = engine::NewExecutorByKind({{fb::ExecutorKind::Hook, hooks.get()},
                                         {fb::ExecutorKind::Plugin, plugins.get()},
                                         {fb::ExecutorKind::Agent, agents.get()}});
  }
  ~Executors() {  // the dispatcher first, the plugin host last
    by_kind.reset();
    plugins.reset();
    hooks.reset();
    agents.reset();
    plugin_host.reset();
  }
};

engine::EngineOptions EngineOptionsOf(const Settings& s, std::vector<std::string> lexical_roots,
                                      engine::EngineObserver* observer) {
  engine::EngineOptions eo;
  eo.observer = observer;
  eo.snapshot_every = s.snapshot_every;
  eo.limits.max_running = std::max<uint32_t>(1, s.max_running);
  eo.limits.hook_roots = std::move(lexical_roots);  // refuse at registration what the hook executor would refuse
  eo.limits.allow_shell_hooks = s.allow_shell_hooks;
  eo.min_free_bytes = s.min_free_mb << 20;
  eo.max_reply_bytes = s.max_reply_kb << 10;
  return eo;
}

// --inspect answers every command with why it cannot run.
std::string InspectReason(const Status& damage) {
  if (damage.ok()) return "read-only inspection: the log is open read-only (--inspect)";
  return "read-only inspection: the log is damaged at seq " +
         (damage.seq() ? std::to_string(*damage.seq()) : std::string("?")) + " (" + damage.message() + ")";
}

int StartSigner(const Settings& s, store::EventLog* log, store::HeadKey key, daemon::BusPublisher* publisher,
                std::unique_ptr<daemon::HeadSigner>* signer) {
  daemon::HeadSignerOptions o;
  if (s.sign_head_every) o.every_events = *s.sign_head_every;
  if (s.sign_head_seconds) o.every_seconds = *s.sign_head_seconds;
  o.head_path = s.data + "/head.signed";
  o.checkpoint_every = s.verify_checkpoint_every;
  *signer = std::make_unique<daemon::HeadSigner>(log, std::move(key), o, [publisher](const std::string& h) {
    if (bus::Server* srv = publisher->server.load()) srv->PublishHead(h);
  });
  if (Status st = (*signer)->Start(log->LastSeq()); !st.ok()) return Refuse("cannot sign the chain head: " + st.ToString(), 1);
  return -1;
}

// With --metrics, GET /metrics on its own port; the bus's counters join in.
int ServeMetrics(const Settings& s, const bus::Server* server, observe::Observability* o) {
  o->WatchBus(server);
  if (s.metrics.empty()) return -1;
  if (Status st = o->ServeMetrics(s.metrics); !st.ok()) return Refuse(st.message(), 1);
  if (!bus::IsLoopbackEndpoint("tcp://" + o->metrics_address())) {
    spdlog::warn("upgraded: metrics on {} are readable by anyone who reaches it (no authentication)", s.metrics);
  }
  spdlog::info("upgraded: metrics on http://{}/metrics", o->metrics_address());
  return -1;
}

// The start-up line in the log, and the one line on stdout that scripts wait for.
void Announce(const Settings& s, const bus::Server* server, const store::EventLog* log) {
  spdlog::info("upgraded: data {} (sync {}), commands {}, events {}, replay {}; {} events in the log", s.data, s.sync,
               server->command_endpoint(), server->event_endpoint(), server->replay_endpoint(), log->LastSeq());
  std::cout << "ready " << server->command_endpoint() << " " << server->event_endpoint() << " "
            << server->replay_endpoint() << std::endl;
  daemon::NotifyReady("serving commands on " + server->command_endpoint());
}

// Signals go to the main thread's sigwait only; every thread started from
// here inherits the block.
sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Until SIGTERM or SIGINT; SIGHUP reloads the keys file.
void ServeUntilStopped(sigset_t signals, const Settings& s, bus::ServerOptions& so, bus::Server* server) {
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    if (s.keys.empty()) {
      spdlog::warn("upgraded: SIGHUP: no keys file to reload");
      continue;
    }
    daemon::ReloadKeys(s.keys, so.keyring.get(), server);
  }
  spdlog::info("upgraded: {} received; stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

}  // namespace

int main(int argc, char** argv) {
  // A daemon runs for months in bursts: memory a burst freed (round
  // batches, reply pages, snapshot buffers) goes back to the system instead
  // of waiting in the heap. glibc's default thresholds grow to the largest
  // block ever freed, so they are pinned low; the cost is a few more
  // mmap/munmap calls for large blocks. With jemalloc (NOODLE_MALLOC, the
  // default) these reach only glibc's unused heap; jemalloc returns dirty
  // pages on its own after its decay time (10 s).
  mallopt(M_MMAP_THRESHOLD, 128 << 10);
  mallopt(M_TRIM_THRESHOLD, 128 << 10);
  Settings s;
  if (int rc = daemon::LoadSettings(argc, argv, &s); rc >= 0) return rc;
  // Logs on stderr; stdout carries only the "ready" line scripts wait for.
  observe::InstallLogger("upgraded", *observe::ParseLogFormat(s.log_format), *observe::ParseLogLevel(s.log_level));
  const sigset_t signals = BlockSignals();
  if (Status st = daemon::PrepareDataDir(s.data); !st.ok()) return Refuse(st.message());
  bus::ServerOptions so;
  if (int rc = ConfigureBus(s, &so); rc >= 0) return rc;
  std::unique_ptr<store::EventLog> log;
  if (int rc = OpenLog(s, &log); rc >= 0) return rc;
  observe::Observability observability(log.get());
  dashboard::Dashboard dash(observability.engine_observer());  // sees the events first, then passes them on
  // Before anything is appended: the chain since the last verified
  // checkpoint, and the log against the newest signed head.
  std::optional<store::HeadKey> head_key;
  Status damage;
  if (int rc = daemon::CheckBeforeStart(log.get(), s.data, s.inspect, {s.verify_checkpoint_every, !s.inspect},
                                        &head_key, &damage);
      rc != 0) {
    return rc;
  }
  engine::HookExecutorOptions hook_options;
  std::vector<std::string> lexical_roots;
  if (int rc = HookOptions(s, &hook_options, &lexical_roots); rc >= 0) return rc;
  auto executors = std::make_unique<Executors>(s, hook_options);
  daemon::BusPublisher publisher;
  std::unique_ptr<daemon::HeadSigner> signer;
  if (!s.inspect) {
    if (int rc = StartSigner(s, log.get(), std::move(*head_key), &publisher, &signer); rc >= 0) return rc;
  }
  daemon::HeadFanOut fanout(&publisher, signer.get());
  std::unique_ptr<engine::Engine> eng;
  if (!s.inspect) {
    const auto eo = EngineOptionsOf(s, std::move(lexical_roots), dash.observer());
    if (Status st = engine::Engine::Open(log.get(), executors->by_kind.get(), &fanout, eo, &eng); !st.ok()) {
      return Refuse("cannot start the engine: " + st.ToString(), 1);
    }
  }
  so.head_source = [&signer, path = s.data + "/head.signed"] {
    if (signer) return signer->Latest();
    auto head = store::ReadWholeFile(path);  // --inspect: the head as found
    return head.ok() ? head.value() : std::string();
  };
  std::unique_ptr<bus::Server> server;
  auto handler = s.inspect ? daemon::RefuseCommands(InspectReason(damage))
                           : daemon::EngineHandler(eng.get(), observability.reply_observer());
  if (Status st = bus::Server::Start(so, handler, daemon::LogReplay(log.get()), &server); !st.ok()) {
    return Refuse(st.message(), 1);
  }
  if (int rc = ServeMetrics(s, server.get(), &observability); rc >= 0) return rc;
  if (int rc = daemon::ServeDashboard(s, eng.get(), &dash); rc >= 0) return rc;
  publisher.server = server.get();
  Announce(s, server.get(), log.get());
  ServeUntilStopped(signals, s, so, server.get());
  daemon::NotifyStopping();
  // The bus serves on while running steps finish: their events are published.
  if (eng) eng->Stop(std::chrono::milliseconds(static_cast<int64_t>(s.stop_grace_s * 1000)));
  server->Stop();
  dash.Stop();  // its pages read the engine
  publisher.server = nullptr;
  eng.reset();
  if (signer) signer->Stop();  // signs the final head
  executors.reset();
  observability.Stop();  // it reads the bus's counters
  server.reset();
  log.reset();
  spdlog::info("upgraded: stopped cleanly");
  return 0;
}
