// Identity on the bus, against a real upgraded with a keys file: CURVE keys,
// the ZAP handler, roles checked before decide, refusals recorded (and
// coalesced), the actor taken from the key, revocation by SIGHUP, and the
// secure defaults (loopback only without keys, data directory modes).
#define BOOST_TEST_MODULE bus_identity
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>
#include <zmq.hpp>

#include "noodle/bus/client.h"
#include "noodle/bus/keys.h"
#include "noodle/bus/server.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "support/daemon_process.h"
#include "support/test_support.h"
#include "support/typed_answers.h"

using namespace noodle;
BOOST_TEST_DONT_PRINT_LOG_VALUE(noodle::fb::Event)
BOOST_TEST_DONT_PRINT_LOG_VALUE(noodle::fb::RejectCode)

namespace {

using Daemon = test::DaemonProcess;

const char* Code(fb::RejectCode c) { return fb::EnumNameRejectCode(c); }

struct Keys {
  std::map<std::string, bus::CurveKeyPair> pairs;  // by principal name
  std::string file;
  std::string server_public;

  bus::CurveClientKeys For(const std::string& name) const {
    const auto& p = pairs.at(name);
    return {server_public, p.public_key, p.secret_key};
  }
};

// Writes a keys file with one key per (roles, name) and a server key pair.
Keys MakeKeys(const test::TempDir& dir, const std::vector<std::pair<std::string, std::string>>& roles_names) {
  Keys k;
  k.file = dir.sub("keys");
  std::ofstream out(k.file);
  out << "# roles name key\n";
  for (const auto& [roles, name] : roles_names) {
    auto pair = bus::GenerateKeyPair();
    BOOST_REQUIRE(pair.ok());
    k.pairs[name] = *pair;
    out << roles << " " << name << " " << pair->public_key << "\n";
  }
  auto server = bus::GenerateKeyPair();
  BOOST_REQUIRE(server.ok());
  BOOST_REQUIRE(bus::WriteKeyPair(dir.sub("server"), *server).ok());
  k.server_public = server->public_key;
  k.pairs["stranger"] = *bus::GenerateKeyPair();  // in no keys file
  return k;
}

Daemon StartWithKeys(const test::TempDir& dir, const Keys& k, std::vector<std::string> extra = {}) {
  extra.insert(extra.end(), {"--keys", k.file, "--server-key", dir.sub("server.key")});
  return Daemon::Start(UPGRADED_PATH, dir.sub("data"), extra);
}

std::unique_ptr<bus::CommandClient> Client(const Daemon& d, const bus::CurveClientKeys& curve, int timeout_ms = 5000) {
  bus::CommandClientOptions o;
  o.timeout_ms = timeout_ms;
  o.retries = 0;
  o.curve = curve;
  std::unique_ptr<bus::CommandClient> c;
  BOOST_REQUIRE(bus::CommandClient::Connect(d.commands, o, &c).ok());
  return c;
}

// The reply, or nullopt when none came.
std::optional<engine::Reply> Call(bus::CommandClient& c, const std::string& command) {
  auto bytes = c.Call(command);
  if (!bytes.ok()) return std::nullopt;
  engine::Reply r;
  BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
  return r;
}

std::vector<std::string> AllEvents(const Daemon& d, const bus::CurveClientKeys& curve) {
  std::vector<std::string> out;
  uint64_t last = 0;
  for (uint64_t from = 1;;) {
    std::vector<std::string> batch;
    BOOST_REQUIRE(bus::FetchReplay(d.replay, from, 0, 1000, &batch, &last, 5000, curve).ok());
    if (batch.empty()) break;
    from += batch.size();
    for (auto& b : batch) out.push_back(std::move(b));
  }
  return out;
}

proj::Component Comp(const std::string& name) {
  proj::Component c;
  c.name = name;
  c.version = "1.0.0";
  return c;
}

// Whether a raw SUB socket with these keys receives anything within a bounded wait.
bool SubscriberReceives(const Daemon& d, const bus::CurveClientKeys& curve, const std::function<void()>& cause) {
  zmq::context_t ctx(1);
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  if (curve.enabled()) {
    sub.set(zmq::sockopt::curve_serverkey, curve.server_public);
    sub.set(zmq::sockopt::curve_publickey, curve.public_key);
    sub.set(zmq::sockopt::curve_secretkey, curve.secret_key);
  }
  sub.set(zmq::sockopt::subscribe, "");
  sub.connect(d.events);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let a handshake that can succeed succeed
  cause();
  zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
  return zmq::poll(&item, 1, std::chrono::milliseconds(1500)) > 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_key_unknown_key_and_revoked_key_get_no_reply_and_no_events) {
  test::TempDir dir;
  Keys k = MakeKeys(dir, {{"admin,operator,observer", "root-ops"}, {"observer", "watcher"}});
  Daemon d = StartWithKeys(dir, k);
  auto admin = Client(d, k.For("root-ops"));
  int n = 0;
  auto register_one = [&] { BOOST_REQUIRE(Call(*admin, engine::cmd::Register(Comp("svc-" + std::to_string(++n))))); };

  // The admin's key works, so the daemon is up and answering.
  BOOST_REQUIRE(Call(*admin, engine::cmd::QueryStatus())->accepted);

  // No key (plaintext), an unknown key: nothing past the handshake.
  for (const auto& curve : {bus::CurveClientKeys{}, k.For("stranger")}) {
    auto c = Client(d, curve, 500);
    BOOST_TEST(!Call(*c, engine::cmd::Register(Comp("intruder"))).has_value());
    std::vector<std::string> events;
    uint64_t last = 0;
    BOOST_TEST(!bus::FetchReplay(d.replay, 1, 0, 10, &events, &last, 500, curve).ok());
    BOOST_TEST(!SubscriberReceives(d, curve, register_one));
  }
  // The watcher's key receives events, until it is removed and the daemon reloads.
  BOOST_TEST(SubscriberReceives(d, k.For("watcher"), register_one));
  auto watcher = Client(d, k.For("watcher"), 500);
  BOOST_REQUIRE(Call(*watcher, engine::cmd::QueryStatus()).has_value());
  {
    std::ofstream out(k.file);
    out << "admin,operator,observer root-ops " << k.pairs["root-ops"].public_key << "\n";
  }
  kill(d.pid, SIGHUP);
  // The reload is asynchronous: wait until the watcher's connection is refused.
  BOOST_REQUIRE(test::WaitFor([&] { return !Call(*watcher, engine::cmd::QueryStatus()).has_value(); }, 30));
  BOOST_TEST(!SubscriberReceives(d, k.For("watcher"), register_one));
  std::vector<std::string> events;
  uint64_t last = 0;
  BOOST_TEST(!bus::FetchReplay(d.replay, 1, 0, 10, &events, &last, 500, k.For("watcher")).ok());

  // Nothing the refused clients sent reached the log.
  for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
    const auto* env = fb::GetEventEnvelope(bytes.data());
    BOOST_TEST(env->stream()->str() != "component/intruder");
    BOOST_TEST(env->actor()->str() == "root-ops");
  }
}

BOOST_AUTO_TEST_CASE(an_observer_is_refused_unauthorized_and_the_refusal_is_recorded_with_its_principal) {
  test::TempDir dir;
  Keys k = MakeKeys(dir, {{"admin,operator,observer", "root-ops"}, {"observer", "watcher"}, {"operator", "ops"}});
  Daemon d = StartWithKeys(dir, k);
  auto admin = Client(d, k.For("root-ops"));
  BOOST_REQUIRE(Call(*admin, engine::cmd::Register(Comp("db")))->accepted);

  auto watcher = Client(d, k.For("watcher"));
  engine::cmd::UpgradeRequest req;
  req.component = "db";
  req.target_version = "1.1.0";
  auto r = Call(*watcher, engine::cmd::Upgrade(req));
  BOOST_REQUIRE(r.has_value());
  BOOST_TEST(!r->accepted);
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  BOOST_TEST(r->message.find("operator") != std::string::npos);
  // Queries are every role's.
  BOOST_TEST(Call(*watcher, engine::cmd::QueryRegistry())->accepted);

  // An operator may not register (admin's), nor upgrade with a target that sets hooks.
  auto ops = Client(d, k.For("ops"));
  r = Call(*ops, engine::cmd::Register(Comp("cache")));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  BOOST_TEST(r->message.find("admin") != std::string::npos);
  proj::Component hooked = Comp("db");
  hooked.version = "1.2.0";
  hooked.hooks["swap"] = proj::Hook{{"/bin/sh", "-c", "id"}, false, 1000};
  req.target = hooked;
  req.target_version = "1.2.0";
  r = Call(*ops, engine::cmd::Upgrade(req));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));

  std::vector<std::string> principals, commands, roles;
  for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
    const auto* env = fb::GetEventEnvelope(bytes.data());
    if (const auto* refused = env->event_as_CommandRefused()) {
      BOOST_TEST(env->stream()->str() == "security/refusals");
      BOOST_TEST(env->actor()->str() == refused->principal()->str());
      principals.push_back(refused->principal()->str());
      commands.push_back(refused->command()->str());
      roles.push_back(refused->missing_role()->str());
    }
  }
  BOOST_TEST(principals == (std::vector<std::string>{"watcher", "ops", "ops"}), boost::test_tools::per_element());
  BOOST_TEST(commands == (std::vector<std::string>{"RequestUpgrade", "RegisterComponent", "RequestUpgrade"}),
             boost::test_tools::per_element());
  BOOST_TEST(roles == (std::vector<std::string>{"operator", "admin", "admin"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_operator_cannot_change_what_runs_through_a_target_or_a_rollback) {
  test::TempDir dir;
  Keys k = MakeKeys(dir, {{"admin,operator,observer", "root-ops"}, {"operator,observer", "ops"}});
  Daemon d = StartWithKeys(dir, k);
  auto admin = Client(d, k.For("root-ops"));
  auto ops = Client(d, k.For("ops"));
  proj::Component db = Comp("db");
  db.artifact_location = "/srv/db-1.0.0.tar";
  db.artifact_sha256 = std::string(64, 'a');
  db.artifact_require_signature = true;
  db.executor = fb::ExecutorKind::Agent;
  db.instances = {"db-1"};
  BOOST_REQUIRE(Call(*admin, engine::cmd::Register(db))->accepted);
  BOOST_REQUIRE(Call(*ops, engine::cmd::Point("before-cache"))->accepted);
  BOOST_REQUIRE(Call(*admin, engine::cmd::Register(Comp("cache")))->accepted);

  engine::cmd::UpgradeRequest req;
  req.component = "db";
  req.target_version = "1.1.0";
  req.dry_run = true;
  // A new artifact, still signed: the operator's to ask for.
  proj::Component next = db;
  next.version = "1.1.0";
  next.artifact_location = "/srv/db-1.1.0.tar";
  next.artifact_sha256 = std::string(64, 'b');
  req.target = next;
  auto r = Call(*ops, engine::cmd::Upgrade(req));
  BOOST_TEST(Code(r->code) != std::string("Unauthorized"), r->message);
  // Dropping the signature requirement, or moving it onto other instances: admin's.
  next.artifact_require_signature = false;
  req.target = next;
  r = Call(*ops, engine::cmd::Upgrade(req));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  BOOST_TEST(r->message.find("admin") != std::string::npos);
  next.artifact_require_signature = true;
  next.instances = {"attacker-box"};
  req.target = next;
  r = Call(*ops, engine::cmd::Upgrade(req));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));

  // A rollback to the point would deregister cache, which an admin registered.
  r = Call(*ops, engine::cmd::RollBack("before-cache", 0, 0, "undo"));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  BOOST_TEST(r->message.find("deregisters cache") != std::string::npos);
  r = Call(*admin, engine::cmd::RollBack("before-cache", 0, 0, "undo"));
  BOOST_TEST(r->accepted, r->message);
  std::vector<std::string> refused;
  for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
    if (const auto* e = fb::GetEventEnvelope(bytes.data())->event_as_CommandRefused()) refused.push_back(e->command()->str());
  }
  BOOST_TEST(refused == (std::vector<std::string>{"RequestUpgrade", "RequestUpgrade", "RollBack"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_actor_is_the_principal_whatever_the_client_claims) {
  test::TempDir dir;
  Keys k = MakeKeys(dir, {{"admin,operator,observer", "alice"}});
  Daemon d = StartWithKeys(dir, k);
  auto alice = Client(d, k.For("alice"));
  BOOST_REQUIRE(Call(*alice, engine::cmd::Register(Comp("db"), {{}, 0, "engine"}))->accepted);
  BOOST_REQUIRE(Call(*alice, engine::cmd::Point("before", {{}, 0, "bob"}))->accepted);
  const auto events = AllEvents(d, k.For("alice"));
  BOOST_REQUIRE(events.size() == 2u);
  for (const auto& bytes : events) BOOST_TEST(fb::GetEventEnvelope(bytes.data())->actor()->str() == "alice");
}

BOOST_AUTO_TEST_CASE(an_agent_key_announces_only_its_own_name_and_reports_only_for_its_instances) {
  test::TempDir dir;
  Keys k = MakeKeys(dir, {{"admin,operator,observer", "root-ops"}, {"agent", "host-1"}, {"agent", "host-2"}});
  Daemon d = StartWithKeys(dir, k);
  auto admin = Client(d, k.For("root-ops"));
  auto host1 = Client(d, k.For("host-1"));
  auto host2 = Client(d, k.For("host-2"));
  auto announce = [](const std::string& agent, const std::vector<std::string>& instances) {
    flatbuffers::FlatBufferBuilder fbb;
    auto body = fb::CreateAnnounceAgentDirect(fbb, agent.c_str(), nullptr);
    if (!instances.empty()) {
      std::vector<flatbuffers::Offset<flatbuffers::String>> v;
      for (const auto& i : instances) v.push_back(fbb.CreateString(i));
      auto name = fbb.CreateString(agent);
      body = fb::CreateAnnounceAgent(fbb, name, fbb.CreateVector(v));
    }
    const fb::Id128 id = NewId();
    fbb.Finish(fb::CreateCommandEnvelope(fbb, &id, 0, 0, nullptr, fb::Command::AnnounceAgent, body.Union()),
               fb::CommandEnvelopeIdentifier());
    return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  };
  BOOST_REQUIRE(Call(*host1, announce("host-1", {"web-1"}))->accepted);
  BOOST_REQUIRE(Call(*host2, announce("host-2", {"web-2"}))->accepted);
  // host-2 may not take host-1's name (and so its instances).
  auto r = Call(*host2, announce("host-1", {"web-2"}));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  // Nor announce host-1's instance under its own name.
  r = Call(*host2, announce("host-2", {"web-2", "web-1"}));
  BOOST_TEST(Code(r->code) == std::string("Conflict"));
  BOOST_TEST(r->message.find("announced by agent host-1") != std::string::npos);
  // The operator key may not announce at all.
  r = Call(*admin, announce("root-ops", {"web-9"}));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  BOOST_TEST(r->message.find("agent") != std::string::npos);

  // A rolling upgrade over both agents' instances.
  proj::Component web = Comp("web");
  web.executor = fb::ExecutorKind::Agent;
  web.instances = {"web-1", "web-2"};
  web.hooks["swap"] = proj::Hook{{"/bin/true"}, false, 30000};
  BOOST_REQUIRE(Call(*admin, engine::cmd::Register(web))->accepted);
  engine::cmd::UpgradeRequest req;
  req.component = "web";
  req.target_version = "1.1.0";
  req.strategy.kind = fb::StrategyKind::Rolling;
  req.strategy.max_unavailable = 2;
  proj::Id id;
  BOOST_REQUIRE(Call(*admin, engine::cmd::Upgrade(req, {}, &id))->accepted);

  // Which step runs on which instance: from the StepStarted events.
  std::map<std::string, uint32_t> step_of;
  BOOST_REQUIRE(test::WaitFor([&] {
    for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
      if (const auto* st = fb::GetEventEnvelope(bytes.data())->event_as_StepStarted()) {
        step_of[st->instance()->str()] = st->step();
      }
    }
    return step_of.size() == 2;
  }, 30));

  engine::cmd::StepReport forged;
  forged.upgrade_id = id;
  forged.step = step_of["web-1"];
  forged.succeeded = true;
  // host-2 reports for host-1's instance; the operator reports as "engine".
  r = Call(*host2, engine::cmd::StepResult(forged));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  r = Call(*admin, engine::cmd::StepResult(forged, {{}, 0, "engine"}));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  r = Call(*host2, engine::cmd::Health(id, "web-1", false, "forged"));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));

  // The real agents report: host-1's failure decides; host-2's success is its own.
  engine::cmd::StepReport real2 = forged;
  real2.step = step_of["web-2"];
  BOOST_TEST(Call(*host2, engine::cmd::StepResult(real2))->accepted);
  engine::cmd::StepReport real1 = forged;
  real1.succeeded = false;
  real1.exit_code = 3;
  real1.reason = "swap hook failed: exit code 3";
  BOOST_TEST(Call(*host1, engine::cmd::StepResult(real1))->accepted);

  std::vector<std::string> types;
  bool failed = false;
  for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
    const auto* env = fb::GetEventEnvelope(bytes.data());
    if (env->stream()->str() != "upgrade/" + id.hex()) continue;
    if (const auto* sf = env->event_as_StepFailed()) {
      failed = failed || sf->step() == step_of["web-1"];
      BOOST_TEST(env->actor()->str() == "host-1");
    }
    BOOST_TEST(env->event_type() != fb::Event::UpgradeCompleted);
  }
  BOOST_TEST(failed);
}

// The forged-success scenario: while the engine's own hook runs (and is about
// to fail), a key that holds every role reports the step as succeeded, as
// "engine". Refused; the hook's failure decides.
BOOST_AUTO_TEST_CASE(a_forged_step_result_cannot_complete_an_upgrade_the_engine_runs) {
  test::TempDir dir;
  Keys k = MakeKeys(dir, {{"admin,operator,observer,agent", "root-ops"}});
  std::filesystem::create_directories(dir.sub("hooks"));
  const std::string hook = dir.sub("hooks/slow-fail.sh");
  std::ofstream(hook) << "#!/bin/sh\nsleep 1\necho release is broken\nexit 1\n";
  std::filesystem::permissions(hook, std::filesystem::perms(0755));
  Daemon d = StartWithKeys(dir, k, {"--hook-root", dir.sub("hooks")});
  auto admin = Client(d, k.For("root-ops"));
  proj::Component c = Comp("db");
  c.hooks["swap"] = proj::Hook{{hook}, false, 30000};
  BOOST_REQUIRE(Call(*admin, engine::cmd::Register(c))->accepted);
  engine::cmd::UpgradeRequest req;
  req.component = "db";
  req.target_version = "1.1.0";
  proj::Id id;
  BOOST_REQUIRE(Call(*admin, engine::cmd::Upgrade(req, {}, &id))->accepted);
  BOOST_REQUIRE(test::WaitFor([&] {
    for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
      if (fb::GetEventEnvelope(bytes.data())->event_type() == fb::Event::StepStarted) return true;
    }
    return false;
  }, 30));
  engine::cmd::StepReport forged;
  forged.upgrade_id = id;
  forged.step = 0;
  forged.succeeded = true;
  auto r = Call(*admin, engine::cmd::StepResult(forged, {{}, 0, "engine"}));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));
  BOOST_TEST(r->message.find("run by the engine") != std::string::npos);
  r = Call(*admin, engine::cmd::Health(id, "", true, "forged"));
  BOOST_TEST(Code(r->code) == std::string("Unauthorized"));

  // The upgrade ends as its hook decides: failed and rolled back, db still 1.0.0.
  bool ended = false, step_failed = false;
  BOOST_REQUIRE(test::WaitFor([&] {
    for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
      const auto* env = fb::GetEventEnvelope(bytes.data());
      BOOST_REQUIRE(env->event_type() != fb::Event::UpgradeCompleted);
      if (const auto* f = env->event_as_StepFailed()) {
        const bool hook_said_so = f->output_tail()->str().find("release is broken") != std::string::npos;
        step_failed = step_failed || (f->step() == 0 && hook_said_so);
      }
      ended = ended || env->event_type() == fb::Event::RollbackCompleted ||
              env->event_type() == fb::Event::RollbackFailed;
    }
    return ended;
  }, 60));
  BOOST_TEST(step_failed);
  auto reg = Call(*admin, engine::cmd::QueryRegistry("db"));
  BOOST_REQUIRE(reg.has_value());
  BOOST_TEST(test::Answer<fb::ComponentInfo>(*reg).spec()->version()->str() == "1.0.0");
}

BOOST_AUTO_TEST_CASE(refusals_are_coalesced_and_every_one_is_counted) {
  test::TempDir dir;
  Keys k = MakeKeys(dir, {{"admin,operator,observer", "root-ops"}, {"observer", "watcher"}});
  Daemon d = StartWithKeys(dir, k);
  auto watcher = Client(d, k.For("watcher"));
  constexpr int kFlood = 300;
  for (int i = 0; i < kFlood; ++i) {
    std::string point = "p";
    point += std::to_string(i);  // not "p" + ...: g++ 12 warns falsely (-Wrestrict) on that here
    BOOST_REQUIRE(Call(*watcher, engine::cmd::Point(point))->code == fb::RejectCode::Unauthorized);
  }
  // A second later, one more: it carries the count of those not recorded.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  BOOST_REQUIRE(Call(*watcher, engine::cmd::Point("last"))->code == fb::RejectCode::Unauthorized);
  uint64_t recorded = 0, suppressed = 0;
  for (const auto& bytes : AllEvents(d, k.For("root-ops"))) {
    if (const auto* r = fb::GetEventEnvelope(bytes.data())->event_as_CommandRefused()) {
      ++recorded;
      suppressed += r->suppressed();
    }
  }
  BOOST_TEST_MESSAGE(recorded << " refusal events for " << kFlood + 1 << " refusals");
  BOOST_TEST(recorded < static_cast<uint64_t>(kFlood));
  BOOST_TEST(recorded + suppressed == static_cast<uint64_t>(kFlood + 1));
}

BOOST_AUTO_TEST_CASE(without_keys_only_loopback_is_bound_and_modes_are_kept_tight) {
  test::TempDir dir;
  std::string out, err;
  // A non-loopback address without CURVE: refused, nothing bound.
  for (const char* ep : {"tcp://0.0.0.0:0", "tcp://*:0"}) {
    const int rc = test::RunProgram({UPGRADED_PATH, "--data-dir", dir.sub("data-open"), "--commands", ep, "--events",
                                     "tcp://127.0.0.1:0", "--replay", "tcp://127.0.0.1:0"},
                                    "", &out, &err);
    BOOST_TEST(rc == 2);
    BOOST_TEST(err.find("refusing to bind") != std::string::npos);
  }
  // A data directory others may write: refused.
  std::filesystem::create_directories(dir.sub("shared"));
  chmod(dir.sub("shared").c_str(), 0777);
  BOOST_TEST(test::RunProgram({UPGRADED_PATH, "--data-dir", dir.sub("shared"), "--commands", "tcp://127.0.0.1:0",
                               "--events", "tcp://127.0.0.1:0", "--replay", "tcp://127.0.0.1:0"},
                              "", &out, &err) == 2);
  BOOST_TEST(err.find("writable by group or others") != std::string::npos);

  // A keys file in a directory others may write: anyone could swap it.
  std::filesystem::create_directories(dir.sub("open-dir"));
  chmod(dir.sub("open-dir").c_str(), 0777);
  test::TempDir other;
  Keys open = MakeKeys(other, {{"observer", "watcher"}});
  std::filesystem::copy_file(open.file, dir.sub("open-dir/keys"));
  BOOST_TEST(test::RunProgram({UPGRADED_PATH, "--data-dir", dir.sub("data-keys"), "--keys", dir.sub("open-dir/keys"),
                               "--commands", "tcp://127.0.0.1:0", "--events", "tcp://127.0.0.1:0", "--replay",
                               "tcp://127.0.0.1:0"},
                              "", &out, &err) == 2);
  BOOST_TEST(err.find("could be replaced by another user") != std::string::npos, err);

  // A fresh data directory is 0700; a generated server key 0600.
  Keys k = MakeKeys(dir, {{"observer", "watcher"}});
  {
    Daemon d = Daemon::Start(UPGRADED_PATH, dir.sub("data"), {"--keys", k.file});
  }
  struct stat st {};
  BOOST_REQUIRE(stat(dir.sub("data").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  BOOST_REQUIRE(stat(dir.sub("data/server.key").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);

  // upgradectl keys generate: the secret 0600, and the keys-file line on stdout.
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "keys", "generate", "--out", dir.sub("carol"), "--roles", "operator"},
                                 "", &out, &err) == 0);
  BOOST_REQUIRE(stat(dir.sub("carol.key").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_TEST(out.starts_with("operator carol "));
  // Never overwritten.
  BOOST_TEST(test::RunProgram({UPGRADECTL_PATH, "keys", "generate", "--out", dir.sub("carol")}, "", &out, &err) == 2);
  // A secret key others can read is refused by the loader.
  chmod(dir.sub("carol.key").c_str(), 0644);
  BOOST_TEST(!bus::LoadKeyPair(dir.sub("carol.key")).ok());
}

BOOST_AUTO_TEST_CASE(keys_files_are_checked_line_by_line) {
  test::TempDir dir;
  auto pair = bus::GenerateKeyPair();
  BOOST_REQUIRE(pair.ok());
  auto parse = [&](const std::string& text) {
    std::ofstream(dir.sub("k")) << text;
    return bus::ParseKeysFile(dir.sub("k"));
  };
  BOOST_TEST(parse("observer alice " + pair->public_key + "\n").ok());
  BOOST_TEST(parse("# only a comment\n\n").ok());
  auto bad_role = parse("observer alice " + pair->public_key + "\nroot bob " + pair->public_key + "\n");
  BOOST_REQUIRE(!bad_role.ok());
  BOOST_TEST(bad_role.status().message().find(":2:") != std::string::npos);
  BOOST_TEST(!parse("observer alice notakey\n").ok());
  BOOST_TEST(!parse("observer ../x " + pair->public_key + "\n").ok());
  BOOST_TEST(!parse("observer alice " + pair->public_key + "\nagent bob " + pair->public_key + "\n").ok());
  auto other = bus::GenerateKeyPair();
  BOOST_REQUIRE(other.ok());
  auto twice = parse("agent host-1 " + pair->public_key + "\nagent host-1 " + other->public_key + "\n");
  BOOST_REQUIRE(!twice.ok());
  BOOST_TEST(twice.status().message().find("already has a key") != std::string::npos);
  for (const char* ep : {"tcp://127.0.0.1:1", "tcp://localhost:1", "tcp://[::1]:1", "ipc:///tmp/x", "inproc://x"}) {
    BOOST_TEST(bus::IsLoopbackEndpoint(ep));
  }
  for (const char* ep : {"tcp://0.0.0.0:1", "tcp://*:1", "tcp://eth0:1", "tcp://10.0.0.1:1", "tcp://127.0.0.1.evil:1"}) {
    BOOST_TEST(!bus::IsLoopbackEndpoint(ep));
  }
}
