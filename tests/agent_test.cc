// Three real upgrade-agent processes with two instances each, on loopback,
// against a real upgraded: a rolling upgrade never has more than
// max_unavailable instances down; a canary spreads over the agents'
// instances; killing an agent mid-step fails the upgrade and rolls back the
// instances already upgraded.
#define BOOST_TEST_MODULE agents
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "noodle/bus/client.h"
#include "noodle/bus/keys.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "support/daemon_process.h"
#include "support/test_support.h"
#include "support/typed_answers.h"

using namespace noodle;

namespace {

struct AgentProcess {
  pid_t pid = -1;
  AgentProcess() = default;
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess(AgentProcess&& o) noexcept : pid(o.pid) { o.pid = -1; }
  static AgentProcess Start(const test::DaemonProcess& d, const std::string& name, const std::string& instances) {
    AgentProcess a;
    std::string line;
    a.pid = test::SpawnUntilFirstLine({AGENT_PATH, "--name", name, "--instances", instances, "--commands", d.commands,
                                       "--events", d.events, "--replay", d.replay, "--log-level", "warn",
                                       "--allow-shell-hooks"},  // the hooks here are shell lines
                                      &line);
    const bool ready = a.pid > 0 && line.rfind("ready", 0) == 0;
    BOOST_REQUIRE_MESSAGE(ready, "agent " << name << " did not start");
    return a;
  }
  void Kill() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ~AgentProcess() { Kill(); }
};

std::vector<std::string> AllEvents(const std::string& replay) {
  std::vector<std::string> out;
  for (uint64_t from = 1;;) {
    std::vector<std::string> batch;
    uint64_t last = 0;
    BOOST_REQUIRE(bus::FetchReplay(replay, from, 0, 1000, &batch, &last).ok());
    if (batch.empty()) return out;
    from += batch.size();
    for (auto& b : batch) out.push_back(std::move(b));
  }
}

// The most steps of the upgrade in flight at once, from its events.
int MostInFlight(const std::vector<std::string>& events, const proj::Id& id, bool reverts) {
  int in_flight = 0, most = 0;
  for (const auto& bytes : events) {
    const auto* e = fb::GetEventEnvelope(bytes.data());
    if (e->stream()->str() != "upgrade/" + id.hex()) continue;
    if (const auto* s = e->event_as_StepStarted(); s && s->revert() == reverts) most = std::max(most, ++in_flight);
    if (e->event_type() == fb::Event::StepSucceeded || e->event_type() == fb::Event::StepFailed) in_flight = std::max(0, in_flight - 1);
  }
  return most;
}

// Sends a command that must be accepted; its reply.
engine::Reply CallAccepted(bus::CommandClient& client, const std::string& command) {
  engine::Reply r;
  auto bytes = client.Call(command);
  BOOST_REQUIRE(bytes.ok());
  BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
  BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
  return r;
}

// Component "edge" 1.0.0, run by agents on the one instance h1-a.
proj::Component EdgeOnH1a(const std::string& swap_hook) {
  proj::Component c;
  c.name = "edge";
  c.version = "1.0.0";
  c.executor = fb::ExecutorKind::Agent;
  c.instances = {"h1-a"};
  c.hooks["swap"] = proj::Hook{{swap_hook}, false, 10000};
  return c;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(rolling_upgrade_across_agents_and_an_agent_killed_mid_step) {
  test::TempDir dir;
  auto d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"));
  std::vector<AgentProcess> agents;
  agents.push_back(AgentProcess::Start(d, "host-1", "h1-a,h1-b"));
  agents.push_back(AgentProcess::Start(d, "host-2", "h2-a,h2-b"));
  agents.push_back(AgentProcess::Start(d, "host-3", "h3-a,h3-b"));

  // Each instance's "deployed version" is a file; host-3's swaps are slow.
  const std::string state = dir.sub("instances");
  std::filesystem::create_directories(state);
  proj::Component c;
  c.name = "edge";
  c.version = "1.0.0";
  c.executor = fb::ExecutorKind::Agent;
  c.instances = {"h1-a", "h1-b", "h2-a", "h2-b", "h3-a", "h3-b"};
  c.hooks["swap"] = proj::Hook{{"case $NOODLE_INSTANCE in h3-*) [ \"$NOODLE_TO\" = 1.2.0 ] && sleep 3;; esac; "
                                "echo $NOODLE_TO > '" + state + "'/$NOODLE_INSTANCE"},
                               true, 4000};
  std::unique_ptr<bus::CommandClient> client;
  bus::CommandClient::Connect(d.commands, {}, &client);
  auto call = [&](const std::string& command) { return CallAccepted(*client, command); };
  call(engine::cmd::Register(c));
  // The status, typed; the reply holds what its answer points into.
  auto status = [&] { return call(engine::cmd::QueryStatus()); };
  auto wait_ended = [&](int seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      const engine::Reply s = status();
      if (test::SizeOf(test::Answer<fb::StatusResult>(s).active()) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  // The agents announced themselves
  {
    const engine::Reply s = status();
    std::vector<std::string> host3;
    for (const auto* a : *test::Answer<fb::StatusResult>(s).agents()) {
      if (a->name()->str() != "host-3") continue;
      for (const auto* i : *a->instances()) host3.push_back(i->str());
    }
    BOOST_TEST((host3 == std::vector<std::string>{"h3-a", "h3-b"}));
  }

  // 1. Rolling, max_unavailable 1: completes, one instance at a time
  engine::cmd::UpgradeRequest r;
  r.component = "edge";
  r.target_version = "1.1.0";
  r.strategy.kind = fb::StrategyKind::Rolling;
  r.strategy.max_unavailable = 1;
  proj::Id first;
  call(engine::cmd::Upgrade(r, {}, &first));
  BOOST_REQUIRE(wait_ended(60));
  fb::Phase first_phase = fb::Phase::Queued;
  const engine::Reply after_first = status();  // named: the loop must not outlive it
  for (const auto* u : *test::Answer<fb::StatusResult>(after_first).recent()) {
    if (IdToHex(*u->id()) == first.hex()) first_phase = u->phase();
  }
  BOOST_TEST((first_phase == fb::Phase::Completed));
  for (const auto& i : c.instances) BOOST_TEST(Read(state + "/" + i) == "1.1.0");
  BOOST_TEST(MostInFlight(AllEvents(d.replay), first, false) == 1);

  // 2. A canary spreads across the agents' instances: 50 % of six is three,
  //    then it waits for a promote
  r.target_version = "1.1.1";
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {50, 100};
  r.upgrade_id = {};
  proj::Id canary;
  call(engine::cmd::Upgrade(r, {}, &canary));
  BOOST_REQUIRE(test::WaitFor([&] {
    const engine::Reply s = status();
    const auto* active = test::Answer<fb::StatusResult>(s).active();
    return std::any_of(active->begin(), active->end(), [](const auto* u) { return u->phase() == fb::Phase::Paused; });
  }, 60));
  std::vector<std::string> at_new;
  for (const auto& i : c.instances) {
    if (Read(state + "/" + i) == "1.1.1") at_new.push_back(i);
  }
  BOOST_TEST((at_new == std::vector<std::string>{"h1-a", "h1-b", "h2-a"}));
  call(engine::cmd::Promote(canary));
  BOOST_REQUIRE(wait_ended(60));
  for (const auto& i : c.instances) BOOST_TEST(Read(state + "/" + i) == "1.1.1");
  r.strategy.kind = fb::StrategyKind::Rolling;
  r.strategy.weights.clear();

  // 3. host-3 is killed while it runs its step: the step times out, the
  //    upgrade fails, and the instances already upgraded are rolled back.
  r.target_version = "1.2.0";
  r.upgrade_id = {};
  proj::Id second;
  call(engine::cmd::Upgrade(r, {}, &second));
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool h3_started = false;
  while (!h3_started && std::chrono::steady_clock::now() < end) {
    for (const auto& bytes : AllEvents(d.replay)) {
      const auto* s = fb::GetEventEnvelope(bytes.data())->event_as_StepStarted();
      h3_started |= s != nullptr && s->instance()->str() == "h3-a" && !s->revert();
    }
    if (!h3_started) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_REQUIRE(h3_started);
  agents[2].Kill();
  BOOST_REQUIRE(wait_ended(60));

  const auto events = AllEvents(d.replay);
  std::string failed_reason;
  std::map<std::string, bool> reverted;
  for (const auto& bytes : events) {
    const auto* e = fb::GetEventEnvelope(bytes.data());
    if (e->stream()->str() != "upgrade/" + second.hex()) continue;
    if (const auto* f = e->event_as_UpgradeFailed()) failed_reason = f->reason()->str();
  }
  // Which reverts succeeded: match StepSucceeded to the revert StepStarted of the same step number
  std::map<uint32_t, std::string> revert_instance;
  for (const auto& bytes : events) {
    const auto* e = fb::GetEventEnvelope(bytes.data());
    if (e->stream()->str() != "upgrade/" + second.hex()) continue;
    if (const auto* s = e->event_as_StepStarted(); s && s->revert()) revert_instance[s->step()] = s->instance()->str();
    if (const auto* ok = e->event_as_StepSucceeded(); ok && revert_instance.count(ok->step())) reverted[revert_instance[ok->step()]] = true;
  }
  BOOST_TEST_MESSAGE("failed: " << failed_reason);
  BOOST_TEST(failed_reason.find("h3-a") != std::string::npos);
  BOOST_TEST(failed_reason.find("no agent reported") != std::string::npos);
  for (const char* i : {"h1-a", "h1-b", "h2-a", "h2-b"}) {
    BOOST_TEST_CONTEXT(i) {
      BOOST_TEST(reverted[i]);
      BOOST_TEST(Read(state + "/" + i) == "1.1.1");
    }
  }
  BOOST_TEST(MostInFlight(events, second, false) == 1);
  BOOST_TEST(Read(state + "/h3-b") == "1.1.1");  // never touched
}

// With a keys file: an agent with its own agent key announces, runs its step
// and reports over CURVE; a key named otherwise cannot announce this name.
BOOST_AUTO_TEST_CASE(an_agent_speaks_curve_with_its_own_key) {
  test::TempDir dir;
  std::string out, err, keys;
  for (auto [who, roles] : {std::pair{"ops", "admin,operator,observer"}, {"host-1", "agent"}, {"impostor", "agent"}}) {
    BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "keys", "generate", "--out", dir.sub(who), "--roles", roles}, "",
                                   &out, &err) == 0);
    keys += out;
  }
  std::ofstream(dir.sub("keys")) << keys;
  std::filesystem::create_directories(dir.sub("hooks"));
  const std::string state = dir.sub("instances");
  std::filesystem::create_directories(state);
  std::ofstream(dir.sub("hooks/swap.sh")) << "#!/bin/sh\necho $NOODLE_TO > '" << state << "'/$NOODLE_INSTANCE\n";
  std::filesystem::permissions(dir.sub("hooks/swap.sh"), std::filesystem::perms(0755));
  auto d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"),
                                      {"--keys", dir.sub("keys"), "--hook-root", dir.sub("hooks")});
  const std::string server_pub = dir.sub("data/server.pub");
  auto agent_argv = [&](const std::string& key) {
    return std::vector<std::string>{AGENT_PATH, "--name", "host-1", "--instances", "h1-a", "--commands", d.commands,
                                    "--events", d.events, "--replay", d.replay, "--log-level", "warn",
                                    "--hook-root", dir.sub("hooks"), "--server-key", server_pub, "--key", key};
  };
  // The impostor's key holds the agent role, but not the name host-1.
  BOOST_TEST(test::RunProgram(agent_argv(dir.sub("impostor.key")), "", &out, &err) == 3);
  BOOST_TEST((err.find("only its own name") != std::string::npos));

  AgentProcess agent;
  std::string line;
  agent.pid = test::SpawnUntilFirstLine(agent_argv(dir.sub("host-1.key")), &line);
  BOOST_REQUIRE(line.rfind("ready", 0) == 0);

  bus::CommandClientOptions co;
  auto pair = bus::LoadKeyPair(dir.sub("ops.key"));
  BOOST_REQUIRE(pair.ok());
  co.curve = {Read(server_pub), pair->public_key, pair->secret_key};
  std::unique_ptr<bus::CommandClient> client;
  bus::CommandClient::Connect(d.commands, co, &client);
  auto call = [&](const std::string& command) { return CallAccepted(*client, command); };
  proj::Component c = EdgeOnH1a(dir.sub("hooks/swap.sh"));
  call(engine::cmd::Register(c));
  engine::cmd::UpgradeRequest req;
  req.component = "edge";
  req.target_version = "1.1.0";
  proj::Id id;
  call(engine::cmd::Upgrade(req, {}, &id));
  BOOST_REQUIRE(test::WaitFor([&] {
    engine::Reply r;
    auto bytes = client->Call(engine::cmd::QueryRegistry("edge"));
    if (!bytes.ok() || !engine::DecodeReply(bytes.value(), &r).ok()) return false;
    auto c = engine::AnswerOf<fb::ComponentInfo>(r);
    return c.ok() && c.value()->spec()->version()->str() == "1.1.0";
  }, 60));
  BOOST_TEST(Read(state + "/h1-a") == "1.1.0");
}

// An agent with --trusted-signers runs a step only on an artifact signed by a
// trusted signer when the component asks for it, and reports who signed.
BOOST_AUTO_TEST_CASE(an_agent_checks_artifact_signatures_before_running_a_step) {
  test::TempDir dir;
  std::string out, err;
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "artifact", "keygen", "--out", dir.sub("release")}, "", &out, &err) == 0);
  std::filesystem::copy_file(dir.sub("release.pub"), dir.sub("signers"));
  std::filesystem::create_directories(dir.sub("hooks"));
  const std::string state = dir.sub("instances");
  std::filesystem::create_directories(state);
  std::ofstream(dir.sub("hooks/swap.sh")) << "#!/bin/sh\necho $NOODLE_TO > '" << state << "'/$NOODLE_INSTANCE\n";
  std::filesystem::permissions(dir.sub("hooks/swap.sh"), std::filesystem::perms(0755));
  auto d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"), {"--hook-root", dir.sub("hooks")});
  AgentProcess agent;
  std::string line;
  agent.pid = test::SpawnUntilFirstLine({AGENT_PATH, "--name", "host-1", "--instances", "h1-a", "--commands",
                                         d.commands, "--events", d.events, "--replay", d.replay, "--log-level", "warn",
                                         "--hook-root", dir.sub("hooks"), "--trusted-signers", dir.sub("signers")},
                                        &line);
  BOOST_REQUIRE(line.rfind("ready", 0) == 0);
  std::unique_ptr<bus::CommandClient> client;
  bus::CommandClient::Connect(d.commands, {}, &client);
  auto call = [&](const std::string& command) { return CallAccepted(*client, command); };
  auto artifact = [&](const std::string& version) {
    const std::string path = dir.sub("edge-" + version + ".tar");
    std::ofstream(path) << "release " << version << "\n";
    return path;
  };
  proj::Component c = EdgeOnH1a(dir.sub("hooks/swap.sh"));
  c.artifact_location = artifact("1.0.0");
  c.artifact_require_signature = true;
  call(engine::cmd::Register(c));
  // 1.1.0 unsigned: refused before the hook runs; 1.2.0 signed: runs.
  auto upgrade_to = [&](const std::string& version) {
    proj::Component next = c;
    next.version = version;
    next.artifact_location = artifact(version);
    if (version == "1.2.0") {
      BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "artifact", "sign", "--key", dir.sub("release.key"),
                                      next.artifact_location},
                                     "", &out, &err) == 0);
    }
    engine::cmd::UpgradeRequest req;
    req.component = "edge";
    req.target_version = version;
    req.target = next;
    proj::Id id;
    call(engine::cmd::Upgrade(req, {}, &id));
    // Step 0's outcome, once the upgrade has ended (completed or rolled back).
    std::string outcome;
    BOOST_REQUIRE(test::WaitFor([&] {
      bool ended = false;
      for (const auto& bytes : AllEvents(d.replay)) {
        const auto* e = fb::GetEventEnvelope(bytes.data());
        if (e->stream()->str() != "upgrade/" + id.hex()) continue;
        if (const auto* f = e->event_as_StepFailed(); f && f->step() == 0) outcome = "failed: " + f->reason()->str();
        if (const auto* ok = e->event_as_StepSucceeded(); ok && ok->step() == 0) {
          outcome = "signed by " + (ok->signer() ? ok->signer()->str() : std::string());
        }
        ended = ended || e->event_type() == fb::Event::UpgradeCompleted ||
                e->event_type() == fb::Event::RollbackCompleted || e->event_type() == fb::Event::RollbackFailed;
      }
      return ended;
    }, 60));
    return outcome;
  };
  const std::string unsigned_outcome = upgrade_to("1.1.0");
  BOOST_TEST(unsigned_outcome.find("failed") == 0u, unsigned_outcome);
  BOOST_TEST(unsigned_outcome.find("signature") != std::string::npos, unsigned_outcome);
  BOOST_TEST(Read(state + "/h1-a") != "1.1.0");  // the swap never ran (the revert may have)
  const std::string signed_outcome = upgrade_to("1.2.0");
  BOOST_TEST(signed_outcome.find("signed by ") == 0u, signed_outcome);
  BOOST_TEST(signed_outcome.size() > std::string("signed by ").size());
  BOOST_TEST(Read(state + "/h1-a") == "1.2.0");
}
