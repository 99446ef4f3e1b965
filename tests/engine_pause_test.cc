// Given events / when an operator pauses or resumes / then events: the
// decider and the status projection, with no disk and no sockets; last, the
// real engine (its timers) over a log, on a clock the test moves.
#define BOOST_TEST_MODULE engine_pause
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "noodle/projections/codec.h"
#include "support/engine_harness.h"
#include "support/world.h"

using namespace noodle;
using engine::cmd::UpgradeRequest;
using Types = std::vector<std::string>;
using test::MakeComponent;
using test::World;

namespace {

UpgradeRequest To(const std::string& component, const std::string& version, fb::StrategyKind kind) {
  UpgradeRequest r;
  r.component = component;
  r.target_version = version;
  r.strategy.kind = kind;
  return r;
}

constexpr int64_t kSecond = 1'000'000'000;

// A gradual upgrade of db in three steps with a 5 s timeout, running step 0.
proj::Id GivenGradualWithTimeout(World& w) {
  w.Register(MakeComponent("db", "1.4.0"));
  auto r = To("db", "1.5.0", fb::StrategyKind::Gradual);
  r.strategy.steps = 3;
  r.timeout_ms = 5000;
  const proj::Id id = w.Upgrade(r);
  BOOST_REQUIRE(w.Phase(id) == "running");
  return id;
}

// Fires the deadline timer as the engine would at `at` (Run adds 1 ms to
// the clock before deciding); returns the event types it wrote.
Types DeadlineTimerAt(World& w, const proj::Id& id, int64_t at) {
  w.now_ns = at - 1'000'000;
  const size_t mark = w.log.size();
  w.Run(engine::cmd::Timer(id, "deadline"));
  return w.TypesSince(mark);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_paused_upgrade_finishes_the_step_in_flight_and_starts_none_until_resumed) {
  World w;
  w.Register(MakeComponent("db", "1.4.0"));
  auto r = To("db", "1.5.0", fb::StrategyKind::Gradual);
  r.strategy.steps = 3;
  const proj::Id id = w.Upgrade(r);
  BOOST_REQUIRE(w.Phase(id) == "running");
  BOOST_REQUIRE((w.Find(id)->steps[0] == proj::StepState::kRunning));

  // When an operator pauses it, then it is paused, with who and why
  size_t mark = w.log.size();
  auto paused = w.Run(engine::cmd::Pause(id, "checking dashboards", {{}, 0, "alice"}));
  BOOST_TEST(!paused.rejected);
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradePaused"}));
  BOOST_TEST(w.Event(mark)->event_as_UpgradePaused()->by()->str() == "alice");
  BOOST_TEST(w.Phase(id) == "paused");
  BOOST_TEST(w.Find(id)->reason == "paused by alice: checking dashboards");
  // When the step in flight succeeds, then it is recorded and no step starts
  mark = w.log.size();
  w.Step(id, 0);
  // (its traffic shift included)
  BOOST_TEST((w.TypesSince(mark) == Types{"StepSucceeded", "TrafficShifted"}));
  BOOST_TEST(w.Find(id)->weight == 33);
  BOOST_TEST(w.Phase(id) == "paused");
  BOOST_TEST((w.Find(id)->steps[1] == proj::StepState::kPending));
  // A second pause is refused
  BOOST_TEST((w.Run(engine::cmd::Pause(id, "")).code == fb::RejectCode::Conflict));

  // When resumed, then the next step starts and the pause's reason is gone
  mark = w.log.size();
  auto resumed = w.Run(engine::cmd::Resume(id, {{}, 0, "alice"}));
  BOOST_TEST(!resumed.rejected);
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradePromoted", "StepStarted"}));
  BOOST_TEST(w.Phase(id) == "running");
  BOOST_TEST(w.Find(id)->reason.empty());
  BOOST_TEST((w.Run(engine::cmd::Resume(id)).code == fb::RejectCode::Conflict));  // not paused now
  w.Step(id, 1);
  w.Step(id, 2);
  BOOST_TEST(w.Phase(id) == "completed");
  BOOST_TEST(w.state.registry.find("db")->version == "1.5.0");
}

BOOST_AUTO_TEST_CASE(a_canary_step_finishing_during_a_pause_pauses_at_its_weight_until_promoted) {
  World w;
  w.Register(MakeComponent("api", "2.1.0"));
  auto r = To("api", "2.2.0", fb::StrategyKind::Canary);
  r.strategy.weights = {10, 100};
  const proj::Id id = w.Upgrade(r);
  BOOST_REQUIRE(!w.Run(engine::cmd::Pause(id, "")).rejected);
  BOOST_TEST(w.Find(id)->reason == "paused by an operator");  // no actor named
  // When the first weight's step succeeds, then traffic shifts and the canary's own pause takes over
  size_t mark = w.log.size();
  w.Step(id, 0);
  BOOST_TEST((w.TypesSince(mark) == Types{"StepSucceeded", "TrafficShifted", "UpgradePaused"}));
  BOOST_TEST(w.Find(id)->weight == 10);
  BOOST_TEST(w.Find(id)->reason.empty());
  // Resume is for an operator's pause: a canary's is promoted
  auto resume = w.Run(engine::cmd::Resume(id));
  BOOST_TEST((resume.code == fb::RejectCode::Conflict));
  BOOST_TEST(resume.message.find("promote") != std::string::npos);
  BOOST_TEST((w.Run(engine::cmd::Pause(id, "")).code == fb::RejectCode::Conflict));  // only a running upgrade pauses
  mark = w.log.size();
  w.Run(engine::cmd::Promote(id));
  BOOST_TEST((w.TypesSince(mark) == Types{"UpgradePromoted", "StepStarted"}));
}

BOOST_AUTO_TEST_CASE(pausing_an_unknown_upgrade_is_refused_and_a_paused_one_still_fails_on_a_failed_step) {
  World w;
  w.Register(MakeComponent("db", "1.4.0"));
  BOOST_TEST((w.Run(engine::cmd::Pause(proj::Id{1, 2}, "")).code == fb::RejectCode::NotFound));
  const proj::Id id = w.Upgrade(To("db", "1.5.0", fb::StrategyKind::Immediate));
  BOOST_REQUIRE(!w.Run(engine::cmd::Pause(id, "")).rejected);
  // When the step in flight fails, then the upgrade fails as it would running
  w.Step(id, 0, false, "swap hook failed");
  BOOST_TEST(w.Phase(id) != "paused");
  BOOST_TEST(w.Phase(id) != "running");
}

BOOST_AUTO_TEST_CASE(an_operator_pause_moves_the_deadline_on_by_its_length) {
  World w;
  const proj::Id id = GivenGradualWithTimeout(w);
  const int64_t old_deadline = w.Find(id)->started_ns + 5 * kSecond;
  BOOST_TEST(w.Find(id)->deadline_ns() == old_deadline);
  // Given it was paused at t and resumed at t + P
  w.now_ns += 2 * kSecond;
  size_t mark = w.log.size();
  BOOST_REQUIRE(!w.Run(engine::cmd::Pause(id, "")).rejected);
  const int64_t paused_at = w.Event(mark)->time_ns();
  BOOST_TEST(w.Find(id)->paused_since_ns == paused_at);
  w.now_ns += 30 * kSecond;
  mark = w.log.size();
  BOOST_REQUIRE(!w.Run(engine::cmd::Resume(id)).rejected);
  const int64_t pause = w.Event(mark)->time_ns() - paused_at;
  BOOST_TEST(pause >= 30 * kSecond);
  // Then the deadline has moved on by P and the pause is over
  BOOST_TEST(w.Find(id)->paused_ns == pause);
  BOOST_TEST(w.Find(id)->paused_since_ns == 0);
  const int64_t deadline = w.Find(id)->deadline_ns();
  BOOST_TEST(deadline == old_deadline + pause);
  // When the deadline timer fires before the moved deadline, then nothing happens
  BOOST_TEST(DeadlineTimerAt(w, id, deadline - 1).empty());
  BOOST_TEST(w.Phase(id) == "running");
  // When it fires at the moved deadline, then the upgrade fails as timed out
  mark = w.log.size();
  const Types after = DeadlineTimerAt(w, id, deadline);
  BOOST_REQUIRE(!after.empty());
  BOOST_TEST(after.front() == "UpgradeFailed");
  BOOST_TEST(w.Event(mark)->event_as_UpgradeFailed()->reason()->str() == "timed out after 5000 ms");
}

BOOST_AUTO_TEST_CASE(while_an_operator_has_it_paused_the_deadline_timer_does_nothing) {
  World w;
  const proj::Id id = GivenGradualWithTimeout(w);
  const int64_t old_deadline = w.Find(id)->deadline_ns();
  BOOST_REQUIRE(!w.Run(engine::cmd::Pause(id, "over the weekend")).rejected);
  // Then it has no deadline (the engine clears its timer)
  BOOST_TEST(w.Find(id)->deadline_ns() == 0);
  // When a deadline timer fires past the old deadline, even by a day, then nothing happens
  BOOST_TEST(DeadlineTimerAt(w, id, old_deadline).empty());
  BOOST_TEST(DeadlineTimerAt(w, id, old_deadline + 86'400 * kSecond).empty());
  BOOST_TEST(w.Phase(id) == "paused");
  BOOST_TEST(w.Find(id)->reason == "paused by an operator: over the weekend");
  // When resumed, then it goes on with the time it had left
  BOOST_REQUIRE(!w.Run(engine::cmd::Resume(id)).rejected);
  BOOST_TEST(w.Phase(id) == "running");
  BOOST_TEST(w.Find(id)->deadline_ns() > w.now_ns);
  for (uint32_t step = 0; step < 3; ++step) w.Step(id, step);
  BOOST_TEST(w.Phase(id) == "completed");
}

BOOST_AUTO_TEST_CASE(a_canary_pause_taking_over_from_an_operator_pause_counts_against_the_timeout) {
  World w;
  w.Register(MakeComponent("api", "2.1.0"));
  auto r = To("api", "2.2.0", fb::StrategyKind::Canary);
  r.strategy.weights = {10, 100};
  r.timeout_ms = 5000;
  const proj::Id id = w.Upgrade(r);
  size_t mark = w.log.size();
  BOOST_REQUIRE(!w.Run(engine::cmd::Pause(id, "")).rejected);
  const int64_t paused_at = w.Event(mark)->time_ns();
  // When the step in flight ends 10 s later, then the canary's pause takes
  // over: the operator's pause ends there, the canary's does not stop the clock
  w.now_ns += 10 * kSecond;
  mark = w.log.size();
  w.Step(id, 0);
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"StepSucceeded", "TrafficShifted", "UpgradePaused"}));
  const int64_t canary_paused_at = w.Event(mark + 2)->time_ns();
  const proj::Upgrade* u = w.Find(id);
  BOOST_TEST(u->paused_ns == canary_paused_at - paused_at);
  BOOST_TEST(u->paused_since_ns == 0);
  BOOST_TEST(u->deadline_ns() == u->started_ns + 5 * kSecond + u->paused_ns);
  // When its deadline passes during the canary's pause, then it times out
  BOOST_TEST(DeadlineTimerAt(w, id, u->deadline_ns()).front() == "UpgradeFailed");
}

// The paused time is state: snapshots keep it, and a snapshot written before
// it existed loads with none (0), as a build then would have folded it.
BOOST_AUTO_TEST_CASE(snapshots_keep_the_paused_time_and_older_ones_load_without_it) {
  using nlohmann::json;
  World w;
  const proj::Id id = GivenGradualWithTimeout(w);
  BOOST_REQUIRE(!w.Run(engine::cmd::Pause(id, "")).rejected);
  w.now_ns += 7 * kSecond;
  BOOST_REQUIRE(!w.Run(engine::cmd::Resume(id)).rejected);
  BOOST_REQUIRE(!w.Run(engine::cmd::Pause(id, "again")).rejected);
  const proj::Upgrade& u = *w.Find(id);
  BOOST_REQUIRE(u.paused_ns >= 7 * kSecond);
  BOOST_REQUIRE(u.paused_since_ns != 0);
  // Round trip: every field back, the new ones included
  const std::string blob = proj::Encode(w.state.status);
  proj::Status back;
  BOOST_REQUIRE(proj::Decode(blob, &back).ok());
  BOOST_TEST((back == w.state.status));
  BOOST_TEST(back.upgrades.at(id).paused_ns == u.paused_ns);
  BOOST_TEST(back.upgrades.at(id).paused_since_ns == u.paused_since_ns);
  // An older build's snapshot has neither key: both load as 0, the rest as written
  json j = json::from_msgpack(blob);
  for (auto& pair : j["upgrades"]) {
    BOOST_REQUIRE(pair[1].contains("paused_ns"));
    pair[1].erase("paused_ns");
    pair[1].erase("paused_since_ns");
  }
  const std::vector<uint8_t> old = json::to_msgpack(j);
  proj::Status loaded;
  const Status st = proj::Decode(std::string(old.begin(), old.end()), &loaded);
  BOOST_REQUIRE_MESSAGE(st.ok(), st.ToString());
  proj::Status expected = w.state.status;
  expected.upgrades.at(id).paused_ns = 0;
  expected.upgrades.at(id).paused_since_ns = 0;
  BOOST_TEST((loaded == expected));
}

// The engine itself: pausing clears the deadline timer, resuming arms it
// again with the time that was left. The clock moves only when told.
BOOST_AUTO_TEST_CASE(the_engine_keeps_a_paused_upgrade_past_its_timeout_and_resumes_it) {
  test::EngineRig rig(1'000'000);
  rig.Open();
  auto accepted = [&rig](const std::string& command) {
    const engine::Reply reply = rig.Send(command);
    BOOST_REQUIRE_MESSAGE(reply.accepted, reply.message);
  };
  accepted(engine::cmd::Register(MakeComponent("db", "1.4.0")));
  auto r = To("db", "1.5.0", fb::StrategyKind::Gradual);
  r.strategy.steps = 2;
  r.timeout_ms = 1000;  // the shortest allowed
  proj::Id id;
  accepted(engine::cmd::Upgrade(r, {}, &id));
  auto phase = [&] {
    const engine::State now = rig.engine().Current();  // a copy: read it here
    const proj::Upgrade* u = now.status.find(id);
    return u == nullptr ? proj::Phase::kCompleted : u->phase;
  };
  BOOST_REQUIRE((phase() == proj::Phase::kRunning));
  // Given it is paused, when its timeout has long passed, then it is still paused
  accepted(engine::cmd::Pause(id, "investigating"));
  rig.Advance(10 * kSecond);
  BOOST_TEST((phase() == proj::Phase::kPaused));
  // (the step in flight finishes, and none starts)
  BOOST_REQUIRE(rig.executor().Finish(id, 0, test::Ok()));
  rig.Settle();
  BOOST_TEST((phase() == proj::Phase::kPaused));
  BOOST_TEST(rig.executor().Running().empty());
  // When resumed, then the next step starts, and within the time that was left it goes on
  accepted(engine::cmd::Resume(id));
  BOOST_TEST((phase() == proj::Phase::kRunning));
  BOOST_REQUIRE(rig.executor().Running().size() == 1u);
  rig.Advance(kSecond / 2);
  BOOST_TEST((phase() == proj::Phase::kRunning));
  BOOST_REQUIRE(rig.executor().Finish(id, 1, test::Ok()));
  rig.Settle();
  const engine::State end = rig.engine().Current();
  BOOST_TEST(end.status.find(id) == nullptr);
  BOOST_REQUIRE(!end.status.recent.empty());
  BOOST_TEST((end.status.recent.back().phase == proj::Phase::kCompleted));
  BOOST_TEST(end.registry.find("db")->version == "1.5.0");
}

BOOST_AUTO_TEST_CASE(the_engine_times_a_resumed_upgrade_out_when_the_time_left_runs_out) {
  test::EngineRig rig(1'000'000);
  rig.Open();
  BOOST_REQUIRE(rig.Send(engine::cmd::Register(MakeComponent("db", "1.4.0"))).accepted);
  auto r = To("db", "1.5.0", fb::StrategyKind::Immediate);
  r.timeout_ms = 1000;
  proj::Id id;
  BOOST_REQUIRE(rig.Send(engine::cmd::Upgrade(r, {}, &id)).accepted);
  rig.Advance(kSecond / 2);  // half its time used
  BOOST_REQUIRE(rig.Send(engine::cmd::Pause(id, "")).accepted);
  rig.Advance(10 * kSecond);
  BOOST_REQUIRE(rig.Send(engine::cmd::Resume(id)).accepted);
  BOOST_TEST((rig.engine().Current().status.upgrades.at(id).phase == proj::Phase::kRunning));
  // When the other half has almost passed, then it still runs; once past,
  // it times out (and rolls back). The margin is 1 ms: the engine stamps each
  // decision at least 1 ns after the last, so on this still clock its times
  // run a few ns ahead.
  rig.Advance(kSecond / 2 - 1'000'000);
  BOOST_TEST((rig.engine().Current().status.upgrades.at(id).phase == proj::Phase::kRunning));
  rig.Advance(2'000'000);
  const engine::State now = rig.engine().Current();
  const proj::Upgrade* u = now.status.find(id);
  BOOST_REQUIRE(u != nullptr);
  BOOST_TEST((u->phase == proj::Phase::kRollingBack));
  BOOST_TEST(u->reason == "timed out after 1000 ms");
}
