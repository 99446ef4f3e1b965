// Given events / when an operator pauses or resumes / then events: the
// decider and the status projection, with no disk and no sockets.
#define BOOST_TEST_MODULE engine_pause
#include <boost/test/unit_test.hpp>

#include <algorithm>

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
