// The plugin host with the real counter plugins (examples/plugins/counter):
// swaps under live calls, canary routing, failures that leave the old
// version serving, and the engine driving it through the plugin executor.
#define BOOST_TEST_MODULE plugin_host
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "noodle/engine/executor_by_kind.h"
#include "noodle/plugin/executor.h"
#include "noodle/plugin/host.h"
#include "support/test_support.h"

using namespace noodle;

namespace {

using test::WaitFor;

plugin::HostOptions Options() {
  plugin::HostOptions o;
  o.plugin_dir = PLUGIN_DIR;
  o.trial_program = TRIAL_PROGRAM;
  o.require_sha256 = false;  // these tests are about swapping; the hash policy is confinement_test's
  return o;
}

// "1.1.0 42" -> {"1.1.0", 42}
std::pair<std::string, uint64_t> Parse(const std::string& response) {
  const size_t space = response.find(' ');
  return {response.substr(0, space), std::stoull(response.substr(space + 1))};
}


// Callers that call without pause until stopped, checking every answer.
struct Callers {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> calls{0}, failures{0}, went_back{0};
  std::vector<std::thread> threads;
  Callers(plugin::Router* router, int n) {
    for (int t = 0; t < n; ++t) {
      threads.emplace_back([this, router] {
        uint64_t last = 0;
        while (!stop) {
          auto r = router->Call("inc");
          ++calls;
          if (!r.ok()) {
            ++failures;
            continue;
          }
          const uint64_t value = Parse(r.value()).second;
          if (value <= last) ++went_back;  // the shared counter must only grow
          last = value;
        }
      });
    }
  }
  void Join() {
    stop = true;
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  ~Callers() { Join(); }  // also when a check fails before Join
};

std::string SpecOfVersionMaps(const std::string& needle) {
  std::ifstream maps("/proc/self/maps");
  std::stringstream s;
  s << maps.rdbuf();
  return s.str().find(needle) != std::string::npos ? "mapped" : "not mapped";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_thousand_swaps_under_two_calling_threads_lose_no_call_and_no_count) {
  plugin::Host host(Options());
  BOOST_REQUIRE(host.Start("counter", "1.0.0").ok());
  plugin::Router* router = host.Find("counter");
  Callers callers(router, 2);
  for (int i = 0; i < 1000; ++i) {
    const std::string to = i % 2 == 0 ? "1.1.0" : "1.0.0";  // upgrade, then roll back, and so on
    Status s = host.Stage("counter", to, "", 100);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    BOOST_REQUIRE(host.Commit("counter").ok());
  }
  callers.Join();
  BOOST_TEST_MESSAGE(callers.calls << " calls during 1000 swaps");
  BOOST_TEST(callers.failures == 0u);
  BOOST_TEST(callers.went_back == 0u);
  BOOST_TEST(callers.calls > 1000u);
  // The state survived: the count equals the number of calls made
  auto last = router->Call("inc");
  BOOST_TEST(Parse(last.value()).second == callers.calls + 1);
  BOOST_TEST(host.ActiveSwaps().at(0).serving == "1.0.0");
}

BOOST_AUTO_TEST_CASE(state_migrates_to_a_new_layout_and_back) {
  plugin::Host host(Options());
  BOOST_REQUIRE(host.Start("counter", "1.0.0").ok());
  plugin::Router* router = host.Find("counter");
  for (int i = 0; i < 5; ++i) router->Call("inc");
  BOOST_REQUIRE(host.Stage("counter", "2.0.0", "", 100).ok());
  BOOST_REQUIRE(host.Commit("counter").ok());
  BOOST_TEST(router->Call("inc").value() == "2.0.0 6");
  auto snap = host.CreateSnapshot("counter");
  BOOST_TEST(snap->version == "2.0.0");
  BOOST_TEST(snap->state == "layout=2 count=6 calls=1");
  BOOST_REQUIRE(host.Stage("counter", "1.1.0", "", 100).ok());  // rollback to 1.x reads layout 2
  BOOST_REQUIRE(host.Commit("counter").ok());
  BOOST_TEST(router->Call("add:10").value() == "1.1.0 16");
}

BOOST_AUTO_TEST_CASE(failed_swaps_leave_the_old_version_serving) {
  plugin::Host host(Options());
  BOOST_REQUIRE(host.Start("counter", "1.0.0").ok());
  plugin::Router* router = host.Find("counter");
  Callers callers(router, 1);

  // A wrong SHA-256 is refused before dlopen
  const std::string path_110 = host.LibraryPath("counter", "1.1.0");
  Status wrong = host.Stage("counter", "1.1.0", std::string(64, 'a'), 100);
  BOOST_TEST(wrong.IsCorruption());
  BOOST_TEST(wrong.message().find("refused before dlopen") != std::string::npos);
  BOOST_TEST(SpecOfVersionMaps(path_110) == "not mapped");

  // A version that crashes in create fails in the trial child
  Status crash = host.Stage("counter", "1.3.0", "", 100);
  BOOST_TEST(!crash.ok());
  BOOST_TEST(crash.message().find("crashed") != std::string::npos);
  BOOST_TEST(crash.message().find("(signal ") != std::string::npos);  // SIGSEGV; SIGABRT under UBSan
  BOOST_TEST(crash.message().find("1.0.0 keeps serving") != std::string::npos);

  // A broken release fails its health check
  Status sick = host.Stage("counter", "1.2.0", "", 100);
  BOOST_TEST(sick.message().find("health check failed") != std::string::npos);
  callers.Join();
  BOOST_TEST(callers.failures == 0u);
  BOOST_TEST(callers.went_back == 0u);
  BOOST_TEST(Parse(router->Call("inc").value()).first == "1.0.0");
  BOOST_TEST(host.ActiveSwaps().at(0).staged == "");

  // A version whose export_state returns garbage: the next version refuses it
  plugin::Host other(Options());
  BOOST_REQUIRE(other.Start("counter", "1.4.0").ok());
  other.Find("counter")->Call("inc");
  Status garbage = other.Stage("counter", "1.1.0", "", 100);
  BOOST_TEST(garbage.message().find("refused the migrated state") != std::string::npos);
  BOOST_TEST(Parse(other.Find("counter")->Call("inc").value()).first == "1.4.0");
}

BOOST_AUTO_TEST_CASE(engine_canary_routes_a_tenth_then_a_broken_release_rolls_back_by_itself) {
  test::TempDir dir;
  std::unique_ptr<store::EventLog> log;
  store::LogOptions lo;
  lo.durability = store::Durability::kNoSync;
  BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), lo, &log).ok());
  plugin::Host host(Options());
  auto plugins = plugin::NewPluginExecutor(&host);
  auto executor = engine::NewExecutorByKind({{fb::ExecutorKind::Plugin, plugins.get()}});
  std::unique_ptr<engine::Engine> eng;
  BOOST_REQUIRE(engine::Engine::Open(log.get(), executor.get(), nullptr, {}, &eng).ok());
  proj::Component c;
  c.name = "counter";
  c.version = "1.0.0";
  c.executor = fb::ExecutorKind::Plugin;
  BOOST_REQUIRE(eng->Execute(engine::cmd::Register(c)).accepted);
  BOOST_REQUIRE(host.Start("counter", "1.0.0").ok());
  plugin::Router* router = host.Find("counter");
  Callers callers(router, 1);

  engine::cmd::UpgradeRequest r;
  r.component = "counter";
  r.target_version = "1.1.0";
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {10, 100};
  proj::Id canary;
  BOOST_REQUIRE(eng->Execute(engine::cmd::Upgrade(r, {}, &canary)).accepted);
  BOOST_REQUIRE(WaitFor([&] {
    const engine::State now = eng->Current();  // a copy: find() points into it
    const auto* u = now.status.find(canary);
    return u != nullptr && u->phase == proj::Phase::kPaused;
  }));
  // active_swaps and validate_swap_integrity, as the seed had them
  const auto swaps = host.ActiveSwaps();
  BOOST_REQUIRE(swaps.size() == 1u);
  BOOST_TEST(swaps[0].serving == "1.0.0");
  BOOST_TEST(swaps[0].staged == "1.1.0");
  BOOST_TEST(swaps[0].weight == 10u);
  std::string sha, err;
  BOOST_REQUIRE(test::RunProgram({"/usr/bin/sha256sum", host.LibraryPath("counter", "1.1.0")}, "", &sha, &err) == 0);
  BOOST_TEST(host.ValidateSwapIntegrity("counter", "1.1.0", sha.substr(0, 64)).ok());
  BOOST_TEST(host.ValidateSwapIntegrity("counter", "1.1.0", std::string(64, 'c')).IsCorruption());
  size_t to_new = 0;
  for (int i = 0; i < 100'000; ++i) to_new += Parse(router->Call("inc").value()).first == "1.1.0";
  BOOST_TEST_MESSAGE(to_new << " of 100000 calls reached 1.1.0 at weight 10");
  BOOST_TEST(to_new >= 5'000u);
  BOOST_TEST(to_new <= 15'000u);
  BOOST_REQUIRE(eng->Execute(engine::cmd::Promote(canary)).accepted);
  BOOST_REQUIRE(WaitFor([&] { return eng->Current().status.find(canary) == nullptr; }));
  BOOST_TEST(eng->Current().registry.find("counter")->version == "1.1.0");
  BOOST_TEST(Parse(router->Call("inc").value()).first == "1.1.0");
  BOOST_TEST(SpecOfVersionMaps(host.LibraryPath("counter", "1.0.0")) == "not mapped");  // drained and unloaded

  // The broken 1.2.0: health fails, the upgrade rolls back by itself
  r.target_version = "1.2.0";
  r.strategy.kind = fb::StrategyKind::Immediate;
  r.upgrade_id = {};
  proj::Id broken;
  BOOST_REQUIRE(eng->Execute(engine::cmd::Upgrade(r, {}, &broken)).accepted);
  BOOST_REQUIRE(WaitFor([&] { return eng->Current().status.find(broken) == nullptr; }));
  BOOST_TEST(proj::PhaseName(eng->Current().status.recent.back().phase) == std::string("rolled_back"));
  BOOST_TEST(eng->Current().status.recent.back().reason.find("health check failed") != std::string::npos);
  callers.Join();
  BOOST_TEST(callers.failures == 0u);
  for (int i = 0; i < 1000; ++i) BOOST_REQUIRE(Parse(router->Call("inc").value()).first == "1.1.0");

  // A wrong SHA-256 in the target spec: the step fails before dlopen and the event says so
  r.target_version = "2.0.0";
  r.allow_breaking = true;
  r.upgrade_id = {};
  proj::Component target = c;
  target.version = "2.0.0";
  target.artifact_sha256 = std::string(64, 'b');
  r.target = target;
  proj::Id bad;
  BOOST_REQUIRE(eng->Execute(engine::cmd::Upgrade(r, {}, &bad)).accepted);
  BOOST_REQUIRE(WaitFor([&] { return eng->Current().status.find(bad) == nullptr; }));
  std::string reason;
  for (auto it = log->Scan(1); it->Valid(); it->Next()) {
    if (const auto* f = it->envelope()->event_as_StepFailed()) reason = f->reason()->str();
  }
  BOOST_TEST(reason.find("artifact hash mismatch") != std::string::npos);
  BOOST_TEST(reason.find("refused before dlopen") != std::string::npos);
  eng->Stop();
}
