// The engine service on a real RocksDB log with the real hook executor running
// real scripts: symlinked releases, rollback to a point, restart after SIGKILL.
#define BOOST_TEST_MODULE engine_service
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "noodle/engine/hook_executor.h"
#include "support/test_support.h"
#include "support/typed_answers.h"

using namespace noodle;
using engine::cmd::UpgradeRequest;
namespace fs = std::filesystem;

namespace {

using test::WaitFor;

// Polls until cond holds; bounded in time. Not a timing assertion: the bound
// only keeps a broken build from hanging.

// These tests' hooks are shell lines: an executor that runs them (the default refuses shells).
engine::HookExecutorOptions ShellHooks() {
  engine::HookExecutorOptions o;
  o.allow_shell = true;
  return o;
}

struct Rig {
  test::TempDir dir;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<engine::Executor> executor;
  std::unique_ptr<engine::Engine> engine;

  explicit Rig(uint64_t snapshot_every = 10'000) { Open(snapshot_every); }
  void Open(uint64_t snapshot_every = 10'000) {
    BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok());
    executor = engine::NewHookExecutor(ShellHooks());
    engine::EngineOptions o;
    o.snapshot_every = snapshot_every;
    o.snapshot_events_per_item = 0;  // at the seqs asked for, however small the state
    Status s = engine::Engine::Open(log.get(), executor.get(), nullptr, o, &engine);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  void Close() {
    engine.reset();
    executor.reset();
    log.reset();
  }
  engine::Reply Ok(std::string command) {
    auto r = engine->Execute(std::move(command));
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    return r;
  }
  bool Ended(const proj::Id& id) {
    return WaitFor([&] { return engine->Current().status.find(id) == nullptr; });
  }
  std::string Phase(const proj::Id& id) {
    for (const auto& r : engine->Current().status.recent) {
      if (r.id == id) return proj::PhaseName(r.phase);
    }
    return "";
  }
  std::vector<store::StoredEvent> Stream(const std::string& stream) {
    std::vector<store::StoredEvent> out;
    BOOST_REQUIRE(log->ReadStream(stream, 1, 1000, &out).ok());
    return out;
  }
};

proj::Hook Shell(const std::string& line, uint32_t timeout_ms = 20000) { return proj::Hook{{line}, true, timeout_ms}; }

void WriteFile(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A release directory: releases/<v>/ for each version, `current` -> releases/<first>.
// A release is healthy when it holds a file named healthy.
proj::Component SymlinkedService(const fs::path& root, const std::string& version) {
  for (const char* v : {"1.0.0", "1.1.0", "1.2.0"}) {
    WriteFile(root / "releases" / v / "VERSION", v);
    if (std::string(v) != "1.2.0") WriteFile(root / "releases" / v / "healthy", "");
  }
  fs::create_directory_symlink(fs::path("releases") / version, root / "current");
  proj::Component c;
  c.name = "shop";
  c.version = version;
  c.type = fb::ComponentType::Service;
  const std::string cd = "cd '" + root.string() + "' && ";
  c.hooks["swap"] = Shell(cd + "ln -sfn releases/$NOODLE_TO current.next && mv -T current.next current && echo now $NOODLE_TO");
  c.hooks["health"] = Shell(cd + "test -f current/healthy || { echo \"release $(cat current/VERSION) has no healthy marker\"; exit 1; }");
  return c;
}

std::string LinkTarget(const fs::path& root) { return fs::read_symlink(root / "current").string(); }

}  // namespace

BOOST_AUTO_TEST_CASE(hook_executor_swaps_a_symlinked_release_and_reverts_an_unhealthy_one) {
  Rig rig;
  const fs::path root = rig.dir.sub("shop");
  rig.Ok(engine::cmd::Register(SymlinkedService(root, "1.0.0")));

  proj::Id good;
  UpgradeRequest r;
  r.component = "shop";
  r.target_version = "1.1.0";
  rig.Ok(engine::cmd::Upgrade(r, {}, &good));
  BOOST_REQUIRE(rig.Ended(good));
  BOOST_TEST(rig.Phase(good) == "completed");
  BOOST_TEST(LinkTarget(root) == "releases/1.1.0");
  BOOST_TEST(rig.engine->Current().registry.find("shop")->version == "1.1.0");
  std::string tail;
  for (const auto& e : rig.Stream(engine::UpgradeStream(good))) {
    if (const auto* ok = e.envelope()->event_as_StepSucceeded()) tail = ok->output_tail()->str();
  }
  BOOST_TEST(tail == "now 1.1.0");

  proj::Id bad;
  r.target_version = "1.2.0";
  rig.Ok(engine::cmd::Upgrade(r, {}, &bad));
  BOOST_REQUIRE(rig.Ended(bad));
  BOOST_TEST(rig.Phase(bad) == "rolled_back");
  BOOST_TEST(LinkTarget(root) == "releases/1.1.0");
  BOOST_TEST(rig.engine->Current().registry.find("shop")->version == "1.1.0");
  // The events say why
  bool unhealthy = false, failed_step = false;
  for (const auto& e : rig.Stream(engine::UpgradeStream(bad))) {
    if (const auto* h = e.envelope()->event_as_HealthCheckRecorded()) unhealthy |= h->verdict() == fb::HealthVerdict::Unhealthy;
    if (const auto* f = e.envelope()->event_as_StepFailed()) {
      failed_step |= f->reason()->str() == "health check failed: exit code 1" &&
                     f->output_tail()->str() == "now 1.2.0\nrelease 1.2.0 has no healthy marker";
    }
  }
  BOOST_TEST(unhealthy);
  BOOST_TEST(failed_step);
  const auto stats = rig.engine->Statistics();
  BOOST_TEST(stats.overall.outcomes.at("completed") == 1u);
  BOOST_TEST(stats.overall.outcomes.at("rolled_back") == 1u);
}

BOOST_AUTO_TEST_CASE(wrong_artifact_hash_fails_before_any_hook_and_timeouts_kill_the_hook) {
  Rig rig;
  const fs::path root = rig.dir.sub("shop");
  auto c = SymlinkedService(root, "1.0.0");
  rig.Ok(engine::cmd::Register(c));
  WriteFile(root / "artifact.tar", "bytes");
  UpgradeRequest r;
  r.component = "shop";
  r.target_version = "1.1.0";
  auto target = c;
  target.version = "1.1.0";
  target.artifact_location = (root / "artifact.tar").string();
  target.artifact_sha256 = std::string(64, '0') .replace(0, 1, "1");
  r.target = target;
  proj::Id id;
  rig.Ok(engine::cmd::Upgrade(r, {}, &id));
  BOOST_REQUIRE(rig.Ended(id));
  BOOST_TEST(LinkTarget(root) == "releases/1.0.0");
  std::string reason;
  for (const auto& e : rig.Stream(engine::UpgradeStream(id))) {
    if (const auto* f = e.envelope()->event_as_StepFailed(); f && reason.empty()) reason = f->reason()->str();
  }
  BOOST_TEST(reason.find("artifact hash mismatch") != std::string::npos);

  target.artifact_location.clear();
  target.artifact_sha256.clear();
  target.hooks["swap"] = Shell("sleep 30", 200);
  r.target = target;
  r.upgrade_id = {};
  rig.Ok(engine::cmd::Upgrade(r, {}, &id));
  BOOST_REQUIRE(rig.Ended(id));
  bool timed_out = false;
  for (const auto& e : rig.Stream(engine::UpgradeStream(id))) {
    if (const auto* f = e.envelope()->event_as_StepFailed()) timed_out |= f->outcome() == fb::StepOutcome::TimedOut;
  }
  BOOST_TEST(timed_out);
}

BOOST_AUTO_TEST_CASE(rollback_to_a_point_restores_the_registry_and_can_itself_be_rolled_back) {
  Rig rig(/*snapshot_every=*/16);
  auto comp = [](const std::string& name, const std::string& v, std::vector<proj::Dependency> deps) {
    proj::Component c;
    c.name = name;
    c.version = v;
    c.dependencies = std::move(deps);
    c.hooks["swap"] = Shell("true");
    return c;
  };
  rig.Ok(engine::cmd::Register(comp("db", "1.4.0", {})));
  rig.Ok(engine::cmd::Register(comp("cache", "2.0.0", {})));
  rig.Ok(engine::cmd::Register(comp("auth", "1.0.0", {{"db", "^1.2"}})));
  rig.Ok(engine::cmd::Register(comp("api", "3.1.0", {{"db", "^1.4"}, {"cache", "^2"}, {"auth", "^1"}})));
  rig.Ok(engine::cmd::Register(comp("web", "5.0.0", {{"api", "^3.1"}})));
  rig.Ok(engine::cmd::Point("before-release"));
  const uint64_t point_seq = rig.engine->Current().status.points.at("before-release");
  const proj::Registry at_point = rig.engine->StateAt(point_seq)->registry;

  auto upgrade = [&](const std::string& name, const std::string& to, std::optional<proj::Component> target = {}) {
    UpgradeRequest r;
    r.component = name;
    r.target_version = to;
    r.target = target;
    proj::Id id;
    rig.Ok(engine::cmd::Upgrade(r, {}, &id));
    BOOST_REQUIRE(rig.Ended(id));
    BOOST_REQUIRE(rig.Phase(id) == "completed");
  };
  upgrade("db", "1.5.0");
  upgrade("cache", "2.1.0");
  upgrade("api", "3.2.0", comp("api", "3.2.0", {{"db", "^1.5"}, {"cache", "^2.1"}, {"auth", "^1"}}));
  upgrade("web", "5.1.0", comp("web", "5.1.0", {{"api", "^3.2"}}));
  rig.Ok(engine::cmd::Register(comp("search", "0.9.0", {{"api", "^3"}})));
  rig.Ok(engine::cmd::Deregister("search", "not yet"));
  rig.Ok(engine::cmd::Register(comp("search", "0.9.1", {{"api", "^3"}})));
  const uint64_t later_seq = rig.log->LastSeq();
  const proj::Registry later = rig.engine->Current().registry;

  auto specs = [](const proj::Registry& r) {
    std::map<std::string, proj::Component> m;
    for (const auto& [n, e] : r.components) m[n] = e.spec;
    return m;
  };
  auto rolled = rig.Ok(engine::cmd::RollBack("before-release", 0, 0, "bad release"));
  BOOST_REQUIRE(rolled.ids.size() == 1u);
  BOOST_REQUIRE(WaitFor([&] { return rig.engine->Current().status.rollbacks.empty(); }));
  BOOST_TEST((specs(rig.engine->Current().registry) == specs(at_point)));

  // The rollback's own events are in the log: its start and end, the
  // downgrades (dependents first) as upgrades of their own, the removal.
  const auto op = rig.Stream("rollback/" + rolled.ids[0].hex());
  BOOST_REQUIRE(op.size() == 2u);
  BOOST_TEST(op[0].envelope()->event_as_RollbackStarted()->point()->str() == "before-release");
  BOOST_TEST(op[0].envelope()->event_as_RollbackStarted()->restore()->size() == 4u);
  BOOST_TEST((op.back().envelope()->event_type() == fb::Event::RollbackCompleted));
  std::vector<std::string> downgraded;
  for (auto it = rig.log->Scan(op[0].seq); it->Valid(); it->Next()) {
    const auto* req = it->envelope()->event_as_UpgradeRequested();
    if (req && proj::Id::From(req->parent_id()) == rolled.ids[0]) downgraded.push_back(req->component()->str());
  }
  BOOST_TEST((downgraded == std::vector<std::string>{"web", "api", "cache", "db"}));
  BOOST_TEST((rig.Stream("component/search").back().envelope()->event_type() == fb::Event::ComponentDeregistered));

  // Rolling back the rollback restores the later state
  rig.Ok(engine::cmd::RollBack("", later_seq, 0, "undo the rollback"));
  BOOST_REQUIRE(WaitFor([&] { return rig.engine->Current().status.rollbacks.empty(); }));
  BOOST_TEST((specs(rig.engine->Current().registry) == specs(later)));
  BOOST_TEST(rig.log->Verify(1, UINT64_MAX).ok());

  // Snapshots (every 16 events) give the same state_at as a fold from seq 1
  const uint64_t last = rig.log->LastSeq();
  BOOST_TEST(rig.log->GetSnapshot("status", last).ok());
  for (uint64_t seq : {uint64_t{1}, point_seq, later_seq, last / 2, last}) {
    auto via = rig.engine->StateAt(seq);
    engine::State fold;
    for (auto it = rig.log->Scan(1, seq); it->Valid(); it->Next()) engine::Evolve(fold, *it->envelope());
    BOOST_TEST_CONTEXT("seq " << seq) { BOOST_TEST((via.value() == fold)); }
  }
  // A restart rebuilds exactly the live state
  const engine::State live = rig.engine->Current();
  rig.Close();
  rig.Open(16);
  BOOST_TEST((rig.engine->Current() == live));
}

BOOST_AUTO_TEST_CASE(rollback_to_a_time_restores_the_registry_as_it_was_then) {
  Rig rig;
  proj::Component c;
  c.name = "db";
  c.version = "1.0.0";
  c.hooks["swap"] = Shell("true");
  rig.Ok(engine::cmd::Register(c));
  const int64_t then = rig.log->Read(rig.log->LastSeq())->envelope()->time_ns();
  UpgradeRequest r;
  r.component = "db";
  r.target_version = "1.1.0";
  proj::Id id;
  rig.Ok(engine::cmd::Upgrade(r, {}, &id));
  BOOST_REQUIRE(rig.Ended(id));
  BOOST_TEST(rig.engine->Current().registry.find("db")->version == "1.1.0");
  auto rolled = rig.Ok(engine::cmd::RollBack("", 0, then, "back to then"));
  BOOST_REQUIRE(WaitFor([&] { return rig.engine->Current().status.rollbacks.empty(); }));
  BOOST_TEST(rig.engine->Current().registry.find("db")->version == "1.0.0");
  BOOST_TEST(rig.Stream("rollback/" + rolled.ids.at(0).hex())[0].envelope()->event_as_RollbackStarted()->to_seq() == 1u);
  // Before the first event there is nothing to go back to
  auto early = rig.engine->Execute(engine::cmd::RollBack("", 0, 1, ""));
  BOOST_TEST((early.code == fb::RejectCode::NotFound));
  auto nowhere = rig.engine->Execute(engine::cmd::RollBack("no-such-point", 0, 0, ""));
  BOOST_TEST((nowhere.code == fb::RejectCode::NotFound));
}

BOOST_AUTO_TEST_CASE(bad_commands_get_clear_replies_and_write_nothing) {
  Rig rig;
  auto garbage = rig.engine->Execute("definitely not flatbuffers");
  BOOST_TEST(!garbage.accepted);
  BOOST_TEST((garbage.code == fb::RejectCode::Invalid));
  UpgradeRequest r;
  r.component = "nothing";
  r.target_version = "1.0.0";
  auto missing = rig.engine->Execute(engine::cmd::Upgrade(r));
  BOOST_TEST((missing.code == fb::RejectCode::NotFound));
  BOOST_TEST(rig.log->LastSeq() == 0u);
  // A retried command (same id) gets the original reply and writes nothing more
  proj::Component c;
  c.name = "svc";
  c.version = "1.0.0";
  c.hooks["swap"] = Shell("true");
  rig.Ok(engine::cmd::Register(c));
  UpgradeRequest up;
  up.component = "svc";
  up.target_version = "1.1.0";
  up.timeout_ms = 600000;
  const std::string command = engine::cmd::Upgrade(up, {{0xAA, 0xBB}, 0, "op"});
  auto first = rig.Ok(command);
  const uint64_t after_first = rig.log->LastSeq();
  auto retry = rig.engine->Execute(command);
  BOOST_TEST(retry.accepted);
  BOOST_TEST((retry.seqs == first.seqs));
  BOOST_TEST((retry.ids == first.ids));
  BOOST_REQUIRE(rig.Ended(first.ids.at(0)));
  BOOST_TEST(rig.log->LastSeq() >= after_first);
  uint64_t requested = 0;
  for (auto it = rig.log->Scan(1); it->Valid(); it->Next()) requested += it->envelope()->event_type() == fb::Event::UpgradeRequested;
  BOOST_TEST(requested == 1u);

  // A new command reusing an ended upgrade's id is refused by the log; the
  // engine rebuilds its state and keeps serving
  up.upgrade_id = first.ids.at(0);
  auto reuse = rig.engine->Execute(engine::cmd::Upgrade(up, {{0xAA, 0xCC}, 0, "op"}));
  BOOST_TEST(!reuse.accepted);
  BOOST_TEST((reuse.code == fb::RejectCode::Conflict));
  BOOST_TEST(reuse.message.find("upgrade/" + first.ids.at(0).hex()) != std::string::npos);
  up.upgrade_id = {};
  up.target_version = "1.2.0";
  auto next = rig.Ok(engine::cmd::Upgrade(up));
  BOOST_REQUIRE(rig.Ended(next.ids.at(0)));
  BOOST_TEST(rig.engine->Current().registry.find("svc")->version == "1.2.0");

  const engine::Reply q = rig.engine->Execute(engine::cmd::QueryStatus());
  BOOST_TEST(test::Answer<fb::StatusResult>(q).history_count() == 2u);
}

// TSan cannot follow a child forked from a process that has threads (it
// dies with "dup thread with used id"); the other builds run this case.
boost::test_tools::assertion_result NotUnderThreadSanitizer(boost::unit_test::test_unit_id) {
#if defined(__SANITIZE_THREAD__)
  boost::test_tools::assertion_result skip(false);
  skip.message() << "a fork from a threaded process, under TSan";
  return skip;
#else
  return true;
#endif
}

BOOST_AUTO_TEST_CASE(engine_killed_mid_upgrade_rolls_it_back_on_restart,
                     *boost::unit_test::precondition(NotUnderThreadSanitizer)) {
  test::TempDir dir;
  const fs::path root = dir.sub("shop");
  const fs::path marker = dir.sub("slow.pid");
  auto c = SymlinkedService(root, "1.0.0");
  // Step 2 of 3 hangs (its pid is written down so the test can end it).
  c.hooks["swap"] = Shell("cd '" + root.string() + "' && if [ \"$NOODLE_STEP\" = 1 ] && [ \"$NOODLE_REVERT\" = 0 ]; then echo $$ > '" +
                          marker.string() + "'; exec sleep 60; fi; ln -sfn releases/$NOODLE_TO current.next && mv -T current.next current");
  int ready[2];
  BOOST_REQUIRE(pipe(ready) == 0);
  proj::Id id{0x5EED, 42};
  const pid_t child = fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    close(ready[0]);
    std::unique_ptr<store::EventLog> log;
    if (!store::EventLog::Open(dir.sub("log"), {}, &log).ok()) _exit(2);
    auto executor = engine::NewHookExecutor(ShellHooks());
    std::unique_ptr<engine::Engine> eng;
    if (!engine::Engine::Open(log.get(), executor.get(), nullptr, {}, &eng).ok()) _exit(3);
    if (!eng->Execute(engine::cmd::Register(c)).accepted) _exit(4);
    UpgradeRequest r;
    r.upgrade_id = id;
    r.component = "shop";
    r.target_version = "1.1.0";
    r.strategy.kind = fb::StrategyKind::Gradual;
    r.strategy.steps = 3;
    if (!eng->Execute(engine::cmd::Upgrade(r)).accepted) _exit(5);
    WaitFor([&] { return fs::exists(marker) && fs::file_size(marker) > 0; });
    (void)!write(ready[1], "r", 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char byte = 0;
  BOOST_REQUIRE(read(ready[0], &byte, 1) == 1);
  close(ready[0]);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  BOOST_TEST(WIFSIGNALED(status));
  pid_t hung = 0;
  std::ifstream(marker) >> hung;
  if (hung > 0) kill(hung, SIGKILL);  // the orphaned hook of the killed engine

  std::unique_ptr<store::EventLog> log;
  BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok());
  {
    // As the engine left it: in progress, step 2 running
    engine::State before;
    for (auto it = log->Scan(1); it->Valid(); it->Next()) engine::Evolve(before, *it->envelope());
    BOOST_REQUIRE(before.status.find(id) != nullptr);
    BOOST_TEST((before.status.find(id)->steps[1] == proj::StepState::kRunning));
  }
  auto executor = engine::NewHookExecutor(ShellHooks());
  std::unique_ptr<engine::Engine> eng;
  BOOST_REQUIRE(engine::Engine::Open(log.get(), executor.get(), nullptr, {}, &eng).ok());
  BOOST_REQUIRE(WaitFor([&] { return eng->Current().status.upgrades.empty(); }));
  const auto st = eng->Current().status;
  BOOST_TEST(st.busy.empty());
  BOOST_TEST(proj::PhaseName(st.recent.back().phase) == std::string("rolled_back"));
  BOOST_TEST(st.recent.back().reason.find("interrupted") != std::string::npos);
  BOOST_TEST(LinkTarget(root) == "releases/1.0.0");
  BOOST_TEST(eng->Current().registry.find("shop")->version == "1.0.0");
}

BOOST_AUTO_TEST_CASE(queries_show_active_upgrades_history_and_statistics) {
  Rig rig;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    proj::Component c;
    c.name = name;
    c.version = "1.0.0";
    c.hooks["swap"] = Shell("true");
    // gamma 1.0.1 is unhealthy; its revert (NOODLE_TO back to 1.0.0) is healthy again
    c.hooks["health"] = Shell(std::string(name) == "gamma" ? "test \"$NOODLE_TO\" != 1.0.1 || { echo degraded; exit 1; }" : "true");
    rig.Ok(engine::cmd::Register(c));
  }
  UpgradeRequest canary;
  canary.component = "alpha";
  canary.target_version = "1.1.0";
  canary.strategy.kind = fb::StrategyKind::Canary;
  canary.strategy.weights = {10, 100};
  proj::Id paused;
  rig.Ok(engine::cmd::Upgrade(canary, {}, &paused));
  BOOST_REQUIRE(WaitFor([&] { return rig.engine->Current().status.find(paused)->phase == proj::Phase::kPaused; }));
  for (const char* name : {"beta", "gamma"}) {
    UpgradeRequest r;
    r.component = name;
    r.target_version = "1.0.1";
    proj::Id id;
    rig.Ok(engine::cmd::Upgrade(r, {}, &id));
    BOOST_REQUIRE(rig.Ended(id));
  }
  const engine::Reply status_reply = rig.Ok(engine::cmd::QueryStatus());
  const auto& status = test::Answer<fb::StatusResult>(status_reply);
  BOOST_REQUIRE(test::SizeOf(status.active()) == 1u);
  const fb::UpgradeInfo& active = *status.active()->Get(0);
  BOOST_TEST(active.component()->str() == "alpha");
  BOOST_TEST((active.phase() == fb::Phase::Paused));
  BOOST_TEST((active.strategy() == fb::StrategyKind::Canary));
  BOOST_TEST(active.weight() == 10);
  BOOST_TEST(status.history_count() == 2u);
  BOOST_TEST(test::SizeOf(status.recent()) == 2u);
  const engine::Reply one_reply = rig.Ok(engine::cmd::QueryStatus(paused));
  const auto& one = test::Answer<fb::UpgradeInfo>(one_reply);
  BOOST_REQUIRE(test::SizeOf(one.steps()) == 2u);
  BOOST_TEST((one.steps()->Get(0)->state() == fb::StepState::Succeeded));
  BOOST_TEST((one.steps()->Get(1)->state() == fb::StepState::Pending));
  BOOST_TEST(one.steps()->Get(0)->weight() == 10);
  const engine::Reply stats_reply = rig.Ok(engine::cmd::QueryStatistics());
  const auto& stats = test::Answer<fb::StatisticsResult>(stats_reply);
  BOOST_TEST(test::CountOf(stats.outcomes(), fb::Outcome::Completed) == 1u);
  BOOST_TEST(test::CountOf(stats.outcomes(), fb::Outcome::Failed) == 1u);
  BOOST_TEST(test::CountOf(stats.outcomes(), fb::Outcome::RolledBack) == 1u);
  BOOST_TEST(stats.durations()->count() == 2u);
  BOOST_TEST(stats.durations()->min_ns() <= stats.durations()->max_ns());
  BOOST_TEST(stats.in_flight() == 1u);
  BOOST_REQUIRE(test::SizeOf(stats.per_component()) == 2u);  // beta and gamma ended; alpha has not
  const fb::ComponentStatistics& gamma = *stats.per_component()->Get(1);
  BOOST_TEST(gamma.component()->str() == "gamma");
  BOOST_TEST(test::CountOf(gamma.outcomes(), fb::Outcome::Failed) == 1u);
  const engine::Reply reg_reply = rig.Ok(engine::cmd::QueryRegistry("beta"));
  BOOST_TEST(test::Answer<fb::ComponentInfo>(reg_reply).spec()->version()->str() == "1.0.1");
  auto missing = rig.engine->Execute(engine::cmd::QueryRegistry("delta"));
  BOOST_TEST((missing.code == fb::RejectCode::NotFound));
  // Promote finishes the canary
  rig.Ok(engine::cmd::Promote(paused));
  BOOST_REQUIRE(rig.Ended(paused));
  BOOST_TEST(rig.engine->Current().registry.find("alpha")->version == "1.1.0");
}

BOOST_AUTO_TEST_CASE(the_engine_deadline_timer_fails_a_slow_upgrade_and_rolls_it_back) {
  Rig rig;
  proj::Component c;
  c.name = "slow";
  c.version = "1.0.0";
  // The forward swap outlives the upgrade's 1 s deadline; the revert is quick.
  c.hooks["swap"] = Shell("if [ \"$NOODLE_REVERT\" = 0 ]; then sleep 2; fi; echo swapped to $NOODLE_TO");
  rig.Ok(engine::cmd::Register(c));
  UpgradeRequest r;
  r.component = "slow";
  r.target_version = "1.1.0";
  r.timeout_ms = 1000;
  proj::Id id;
  rig.Ok(engine::cmd::Upgrade(r, {}, &id));
  BOOST_REQUIRE(rig.Ended(id));
  BOOST_TEST(rig.Phase(id) == "rolled_back");
  std::string reason;
  for (const auto& e : rig.Stream(engine::UpgradeStream(id))) {
    if (const auto* f = e.envelope()->event_as_UpgradeFailed()) reason = f->reason()->str();
  }
  BOOST_TEST(reason == "timed out after 1000 ms");
  BOOST_TEST(rig.engine->Current().registry.find("slow")->version == "1.0.0");
}

// A snapshot costs in proportion to the state: for a state of many items,
// snapshots are spaced by snapshot_events_per_item events per item.
BOOST_AUTO_TEST_CASE(a_large_state_spaces_its_snapshots_by_its_size) {
  auto snapshot_after_registering = [](uint64_t events_per_item) {
    test::TempDir dir;
    std::unique_ptr<store::EventLog> log;
    BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok());
    engine::EngineOptions o;
    o.snapshot_every = 4;
    o.snapshot_events_per_item = events_per_item;
    std::unique_ptr<engine::Engine> eng;
    BOOST_REQUIRE(engine::Engine::Open(log.get(), nullptr, nullptr, o, &eng).ok());
    for (int i = 0; i < 40; ++i) {
      proj::Component c;
      c.name = "svc-" + std::to_string(i);
      c.version = "1.0.0";
      BOOST_REQUIRE(eng->Execute(engine::cmd::Register(c)).accepted);
    }
    eng.reset();  // the snapshot writer finishes what it took
    return log->GetSnapshot(proj::Registry::kName, log->LastSeq()).ok();
  };
  // 40 events, and at every seq at least as many items as events: with 16
  // events per item none is due; without the spacing, one every 4 events.
  BOOST_TEST(!snapshot_after_registering(16));
  BOOST_TEST(snapshot_after_registering(0));
}
