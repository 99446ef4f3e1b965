// upgrade-agent: runs upgrade steps for the instances it hosts.
//
// It announces its instances to upgraded, follows the event stream (gap-free,
// from seq 1, folding the registry and status as the engine does), and for
// each StepStarted on one of its instances of a component whose executor is
// Agent, runs the component's hooks there with the hook executor and sends
// ReportHealth / ReportStepResult back as commands. Steps that were started
// before it caught up run only if they are still running by then.
// SIGTERM/SIGINT: stop taking steps and exit (running hooks finish first).
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>
#include <set>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "client_config.h"
#include "noodle/bus/client.h"
#include "noodle/protocol/artifact_signature.h"
#include "noodle/protocol/commands.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/protocol/reply.h"
#include "noodle/envelope.h"
#include "noodle/projections/registry.h"
#include "noodle/projections/status.h"
#include "version.h"

namespace {

using namespace noodle;

std::atomic<bool> g_stop{false};
// Set from the flags before the agent starts (--hook-root, --allow-shell-hooks).
engine::HookExecutorOptions g_hook_options;

std::string AnnounceCommand(const std::string& agent, const std::vector<std::string>& instances) {
  flatbuffers::FlatBufferBuilder b;
  const fb::Id128 cid = NewId();
  auto body = fb::CreateAnnounceAgent(b, b.CreateString(agent), b.CreateVectorOfStrings(instances));
  b.Finish(fb::CreateCommandEnvelope(b, &cid, 0, b.CreateString(agent), nullptr, fb::Command::AnnounceAgent, body.Union()),
           fb::CommandEnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

// A step's report is retried once a second for up to ten minutes.
constexpr int kReportAttempts = 600;

class Agent {
 public:
  Agent(std::string name, std::vector<std::string> instances, std::string commands, const bus::CurveClientKeys& curve)
      : name_(std::move(name)), instances_(instances.begin(), instances.end()), commands_(std::move(commands)) {
    bus::CommandClientOptions o;
    o.curve = curve;
    bus::CommandClient::Connect(commands_, o, &client_);
  }

  bool Send(const std::string& command, engine::Reply* reply) {
    std::lock_guard<std::mutex> lock(client_mu_);
    auto bytes = client_->Call(command);
    if (!bytes.ok()) {
      spdlog::error("agent {}: {}", name_, bytes.status().ToString());
      return false;
    }
    return engine::DecodeReply(bytes.value(), reply).ok();
  }

  // An event from the stream, in order. live: the agent has caught up.
  void OnEvent(const fb::EventEnvelope& e, bool live) {
    proj::Evolve(registry_, e);
    proj::Evolve(status_, e);
    const auto* st = e.event_as_StepStarted();
    if (st == nullptr || st->instance() == nullptr || !instances_.count(st->instance()->str())) return;
    spdlog::debug("agent {}: seq {} starts step {} on {} (live: {})", name_, e.seq(), st->step() + 1,
                  st->instance()->str(), live);
    candidates_.push_back({proj::Id::From(st->upgrade_id()), st->step()});
    if (live) RunCandidates();
  }

  // Starts the candidate steps that are still running.
  void RunCandidates() {
    for (const auto& [id, step] : candidates_) {
      const proj::Upgrade* u = status_.find(id);
      if (u == nullptr || u->target.executor != fb::ExecutorKind::Agent) {
        spdlog::debug("agent {}: step {} of {}: {}", name_, step + 1, id.hex(), u == nullptr ? "upgrade ended" : "not an agent component");
        continue;
      }
      const uint32_t n = static_cast<uint32_t>(u->plan.size());
      const bool revert = step >= n;
      const uint32_t k = revert ? step - n : step;
      const bool running = revert ? u->revert_running && !u->reverts.empty() && u->reverts.front() == k
                                  : k < n && u->steps[k] == proj::StepState::kRunning;
      if (!running || !started_.insert({id, step}).second) continue;
      engine::StepRequest req;
      req.upgrade_id = id;
      req.step = step;
      req.revert = revert;
      req.action = u->plan[k].action;
      req.instance = u->plan[k].instance;
      req.weight = revert ? 0 : u->plan[k].weight;
      if (const proj::Component* now = registry_.find(u->component)) req.from = *now;
      req.to = u->target;
      spdlog::info("agent {}: {} step {} ({} on {}) of upgrade {}", name_, revert ? "reverting" : "running", step + 1,
                   proj::StepActionName(req.action), req.instance, id.hex());
      hooks_->Start(req, [this, req](engine::StepOutcome o) { Report(req, o); });
    }
    candidates_.clear();
  }

  bool Stopping() const { return g_stop.load(); }
  void Shutdown() { hooks_.reset(); }  // waits for running hooks

 private:
  void Report(const engine::StepRequest& req, const engine::StepOutcome& o) {
    for (const auto& c : engine::cmd::OutcomeCommands({req.upgrade_id, req.step, req.instance}, o, {{}, 0, name_})) {
      // The same bytes (the same command id) are sent again while the engine
      // cannot record them (disk full, stopping, unreachable): a retry that
      // was in fact stored gets the original reply, nothing twice.
      for (int attempt = 1;; ++attempt) {
        engine::Reply reply;
        const bool answered = Send(c, &reply);
        if (answered && reply.accepted) break;
        if (answered && reply.code != fb::RejectCode::Unavailable) {
          spdlog::warn("agent {}: report for step {} refused: {}", name_, req.step + 1, reply.message);
          break;
        }
        if (attempt >= kReportAttempts || Stopping()) {
          spdlog::error("agent {}: report for step {} not recorded after {} attempts ({}); the engine's next start "
                        "records the step as interrupted",
                        name_, req.step + 1, attempt, answered ? reply.message : "no reply");
          break;
        }
        if (attempt == 1) spdlog::warn("agent {}: report for step {} not recorded yet ({}); retrying", name_, req.step + 1,
                                       answered ? reply.message : "no reply");
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
  }

  const std::string name_;
  const std::set<std::string> instances_;
  const std::string commands_;
  std::mutex client_mu_;
  std::unique_ptr<bus::CommandClient> client_;
  std::unique_ptr<engine::Executor> hooks_ = engine::NewHookExecutor(g_hook_options);
  proj::Registry registry_;
  proj::Status status_;
  std::vector<std::pair<proj::Id, uint32_t>> candidates_;
  std::set<std::pair<proj::Id, uint32_t>> started_;
};

// The command line, after the environment and the client config filled in
// what it left out.
struct Flags {
  std::string name, commands, events, replay, server_key, key, config, trusted_signers;
  std::vector<std::string> instances;
  std::string log_level = "info";
};

// Parses the command line into *f and g_hook_options. Returns -1 to go on,
// else the exit code.
int ParseFlags(int argc, char** argv, Flags* f, std::set<std::string>* given) {
  CLI::App app{"upgrade-agent: runs upgrade steps for the instances on this host"};
  app.set_version_flag("--version", noodle::tools::VersionLine("upgrade-agent"));
  app.add_option("--name", f->name, "This agent's name")->required();
  app.add_option("--instances", f->instances, "Instances it runs, e.g. web-1,web-2")->delimiter(',')->required();
  app.add_option("--commands", f->commands, "Command endpoint of upgraded");
  app.add_option("--events", f->events, "Event endpoint of upgraded");
  app.add_option("--replay", f->replay, "Replay endpoint of upgraded");
  app.add_option("--server-key", f->server_key, "upgraded's CURVE public key (Z85 or its .pub file)");
  app.add_option("--key", f->key, "this agent's CURVE key pair file (its keys-file line: agent <name> <key>)");
  app.add_option("--trusted-signers", f->trusted_signers,
                 "signers whose artifact signatures this agent accepts (<name> <public key hex> per line)");
  app.add_flag("--require-signatures", g_hook_options.require_signatures,
               "run no step whose artifact lacks a trusted signature (components can also ask for it)");
  app.add_option("--config", f->config, "client config file (JSON: commands, events, replay, server_public_key, client_key)");
  app.add_option("--log-level", f->log_level, "trace, debug, info, warn, error");
  app.add_option("--hook-root", g_hook_options.hook_roots,
                 "directory hook programs must lie in (repeatable); without one no hook program runs")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::ExistingDirectory);
  app.add_flag("--allow-shell-hooks", g_hook_options.allow_shell,
               "DANGEROUS: run hooks' shell lines, unconfined, as the agent's user (often root)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  for (const char* o : {"--commands", "--events", "--replay", "--server-key", "--key"}) {
    if (app.get_option(o)->count() > 0) given->insert(o);
  }
  return -1;
}

// Trusted signers, then endpoints and keys: flags over the environment over
// the config file. Returns -1 to go on, else the exit code.
int Configure(Flags* f, const std::set<std::string>& given, bus::CurveClientKeys* curve) {
  if (!f->trusted_signers.empty()) {
    auto trusted = engine::signing::LoadTrustedSigners(f->trusted_signers);
    if (!trusted.ok()) {
      std::cerr << "upgrade-agent: --trusted-signers: " << trusted.status().message() << "\n";
      return 2;
    }
    g_hook_options.trusted_signers = trusted.value();
  }
  if (!f->config.empty()) setenv("NOODLE_CLIENT_CONFIG", f->config.c_str(), 1);
  tools::ClientConfig cc;
  if (Status s = tools::LoadClientConfig(&cc); !s.ok()) {
    std::cerr << "upgrade-agent: " << s.message() << "\n";
    return 2;
  }
  if (given.count("--commands")) cc.commands = f->commands;
  if (given.count("--events")) cc.events = f->events;
  if (given.count("--replay")) cc.replay = f->replay;
  if (given.count("--server-key")) cc.server_public_key = f->server_key;
  if (given.count("--key")) cc.client_key = f->key;
  f->commands = cc.commands;
  f->events = cc.events;
  f->replay = cc.replay;
  auto keys = tools::CurveKeysOf(cc);
  if (!keys.ok()) {
    std::cerr << "upgrade-agent: " << keys.status().message() << "\n";
    return 2;
  }
  *curve = *keys;
  return -1;
}

// Announces the agent, then follows the log until SIGTERM/SIGINT. Returns
// the exit code.
int Follow(Agent& agent, const Flags& f, const bus::CurveClientKeys& curve) {
  engine::Reply reply;
  if (!agent.Send(AnnounceCommand(f.name, f.instances), &reply) || !reply.accepted) {
    std::cerr << "upgrade-agent: cannot announce to " << f.commands
              << (reply.message.empty() ? "" : ": " + reply.message) << "\n";
    return 3;
  }
  // Where "live" starts: everything up to here is history.
  std::vector<std::string> probe;
  uint64_t caught_up_at = 0;
  if (Status s = bus::FetchReplay(f.replay, 1, 1, 1, &probe, &caught_up_at, 5000, curve); !s.ok()) {
    std::cerr << "upgrade-agent: " << s.ToString() << "\n";
    return 3;
  }
  bus::SubscriberOptions so;
  so.event_endpoint = f.events;
  so.replay_endpoint = f.replay;
  so.curve = curve;
  std::unique_ptr<bus::EventSubscriber> sub;
  if (Status s = bus::EventSubscriber::Open(so, &sub); !s.ok()) {
    std::cerr << "upgrade-agent: " << s.ToString() << "\n";
    return 3;
  }
  spdlog::info("agent {}: announced {} instance(s); following the log", f.name, f.instances.size());
  std::cout << "ready" << std::endl;
  bool live = caught_up_at == 0;
  while (!agent.Stopping()) {
    bus::ReceivedEvent ev;
    Status s = sub->Next(100, &ev);
    if (s.IsCorruption()) {
      std::cerr << "upgrade-agent: " << s.ToString() << "\n";
      return 4;
    }
    if (!s.ok()) {
      if (!live) {
        live = true;  // idle: nothing more to catch up on
        agent.RunCandidates();
      }
      continue;
    }
    spdlog::trace("agent {}: event seq {}", f.name, ev.seq);
    agent.OnEvent(*fb::GetEventEnvelope(ev.bytes.data()), live);
    if (!live && ev.seq >= caught_up_at) {
      live = true;
      agent.RunCandidates();
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  std::set<std::string> given;
  if (int rc = ParseFlags(argc, argv, &f, &given); rc >= 0) return rc;
  spdlog::set_default_logger(spdlog::stderr_color_mt("agent"));
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });
  bus::CurveClientKeys curve;
  if (int rc = Configure(&f, given, &curve); rc >= 0) return rc;
  Agent agent(f.name, f.instances, f.commands, curve);
  const int rc = Follow(agent, f, curve);
  if (rc == 0) agent.Shutdown();
  return rc;
}
