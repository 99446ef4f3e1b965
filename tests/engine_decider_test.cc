// Given events / when a command / then events: the decider and the status
// projection, with no disk and no sockets.
#define BOOST_TEST_MODULE engine_decider
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "noodle/envelope.h"
#include "support/world.h"

using namespace noodle;
using engine::cmd::UpgradeRequest;
using Types = std::vector<std::string>;
using test::MakeComponent;
using test::World;

namespace {

UpgradeRequest To(const std::string& component, const std::string& version) {
  UpgradeRequest r;
  r.component = component;
  r.target_version = version;
  return r;
}

bool HasIssue(const engine::Decision& d, const std::string& code) {
  for (const auto& e : d.errors) {
    if (e.code == code) return true;
  }
  return false;
}

// db 1.4.0 <- api 2.1.0 (needs db ^1.2) <- web 3.0.0 (needs api >=2.0.0 <3.0.0)
void GivenStack(World& w) {
  w.Register(MakeComponent("db", "1.4.0"));
  w.Register(MakeComponent("api", "2.1.0", {{"db", "^1.2"}}));
  w.Register(MakeComponent("web", "3.0.0", {{"api", ">=2.0.0 <3.0.0"}}));
}

}  // namespace

BOOST_AUTO_TEST_CASE(register_records_the_component_once) {
  World w;
  w.Register(MakeComponent("db", "1.4.0"));
  BOOST_REQUIRE((w.TypesSince(0) == Types{"ComponentRegistered"}));
  // When the same registration is retried, then nothing more is recorded
  auto again = w.Run(engine::cmd::Register(MakeComponent("db", "1.4.0")));
  BOOST_TEST(!again.rejected);
  BOOST_TEST(w.log.size() == 1u);
  // When a different spec uses the name, then it is a conflict
  auto other = w.Run(engine::cmd::Register(MakeComponent("db", "2.0.0")));
  BOOST_TEST(other.rejected);
  BOOST_TEST((other.code == fb::RejectCode::Conflict));
  BOOST_TEST(w.state.registry.find("db")->version == "1.4.0");
}

BOOST_AUTO_TEST_CASE(bad_registrations_get_every_reason_and_record_nothing) {
  World w;
  w.Register(MakeComponent("db", "1.4.0"));
  auto c = MakeComponent("api", "2.x", {{"db", ">=2.0.0 <1.0.0"}, {"api", "^1"}, {"cache", "^1"}});
  auto d = w.Run(engine::cmd::Register(c));
  BOOST_TEST(d.rejected);
  BOOST_TEST((d.code == fb::RejectCode::Invalid));
  BOOST_TEST(HasIssue(d, "invalid_version"));
  BOOST_TEST(HasIssue(d, "unsatisfiable_range"));
  BOOST_TEST(HasIssue(d, "dependency_cycle"));
  // Well-formed but unmet: missing and out-of-range dependencies
  auto unmet = w.Run(engine::cmd::Register(MakeComponent("api", "2.0.0", {{"db", "^2"}, {"cache", "^1"}})));
  BOOST_TEST((unmet.code == fb::RejectCode::ValidationFailed));
  BOOST_TEST(HasIssue(unmet, "dependency_unmet"));
  BOOST_TEST(HasIssue(unmet, "dependency_missing"));
  BOOST_TEST(w.log.size() == 1u);
}

BOOST_AUTO_TEST_CASE(immediate_upgrade_succeeds_and_updates_the_registry) {
  World w;
  GivenStack(w);
  const size_t mark = w.log.size();
  const proj::Id id = w.Upgrade(To("db", "1.5.0"));
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradeRequested", "UpgradeValidated", "RollbackPointCreated", "StepStarted"}));
  BOOST_TEST(w.Phase(id) == "running");
  BOOST_TEST(w.state.registry.find("db")->version == "1.4.0");
  const size_t mid = w.log.size();
  w.Step(id, 0);
  BOOST_REQUIRE((w.TypesSince(mid) == Types{"StepSucceeded", "TrafficShifted", "UpgradeCompleted"}));
  BOOST_TEST(w.Phase(id) == "completed");
  BOOST_TEST(w.state.registry.find("db")->version == "1.5.0");
  BOOST_TEST(w.state.status.busy.empty());
  BOOST_TEST(w.state.status.history_count == 1u);
}

BOOST_AUTO_TEST_CASE(validation_failure_reports_every_reason_and_swaps_nothing) {
  World w;
  GivenStack(w);
  // api 3.0.0: breaking, web needs api <3, and it wants db ^2 which is not there
  auto r = To("api", "3.0.0");
  r.expected_version = "2.0.9";
  auto target = MakeComponent("api", "3.0.0", {{"db", "^2"}});
  r.target = target;
  const size_t mark = w.log.size();
  auto d = w.Run(engine::cmd::Upgrade(r));
  BOOST_TEST(d.rejected);
  BOOST_TEST((d.code == fb::RejectCode::ValidationFailed));
  for (const char* code : {"version_mismatch", "breaking_change", "dependency_unmet", "dependent_broken"}) {
    BOOST_TEST_CONTEXT(code) { BOOST_TEST(HasIssue(d, code)); }
  }
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradeRequested", "UpgradeRejected"}));
  BOOST_TEST(w.Event(w.log.size() - 1)->event_as_UpgradeRejected()->errors()->size() == d.errors.size());
  BOOST_TEST(w.state.registry.find("api")->version == "2.1.0");
  BOOST_TEST(w.state.status.upgrades.empty());
}

BOOST_AUTO_TEST_CASE(malformed_requests_are_refused_and_record_nothing) {
  World w;
  GivenStack(w);
  const size_t mark = w.log.size();
  auto unknown = w.Run(engine::cmd::Upgrade(To("ghost", "1.0.0")));
  BOOST_TEST((unknown.code == fb::RejectCode::NotFound));
  BOOST_TEST(unknown.message.find("ghost") != std::string::npos);
  auto bad_version = w.Run(engine::cmd::Upgrade(To("db", "1.5")));
  BOOST_TEST((bad_version.code == fb::RejectCode::Invalid));
  BOOST_TEST(HasIssue(bad_version, "invalid_version"));
  auto absurd = To("db", "1.5.0");
  absurd.timeout_ms = 1;
  absurd.priority = 1'000'000;
  absurd.strategy.kind = fb::StrategyKind::Canary;
  absurd.strategy.weights = {50, 20};
  auto d = w.Run(engine::cmd::Upgrade(absurd));
  BOOST_TEST(HasIssue(d, "invalid_timeout"));
  BOOST_TEST(HasIssue(d, "invalid_priority"));
  BOOST_TEST(HasIssue(d, "invalid_strategy"));
  auto cyclic = To("db", "1.5.0");
  cyclic.target = MakeComponent("db", "1.5.0", {{"web", "*"}});
  auto c = w.Run(engine::cmd::Upgrade(cyclic));
  BOOST_TEST(HasIssue(c, "dependency_cycle"));
  BOOST_TEST(c.errors.front().message.find("db -> web -> api -> db") != std::string::npos);
  auto unsat = To("db", "1.5.0");
  unsat.target = MakeComponent("db", "1.5.0", {{"api", ">3.0.0 <2.0.0"}});
  BOOST_TEST(HasIssue(w.Run(engine::cmd::Upgrade(unsat)), "unsatisfiable_range"));
  // Only the well-formed cyclic request reached validation and was recorded
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradeRequested", "UpgradeRejected"}));
}

BOOST_AUTO_TEST_CASE(step_failure_rolls_back_the_applied_steps) {
  World w;
  GivenStack(w);
  auto r = To("db", "1.5.0");
  r.strategy.kind = fb::StrategyKind::Gradual;
  r.strategy.steps = 3;
  const proj::Id id = w.Upgrade(r);
  w.Step(id, 0);
  const size_t mark = w.log.size();
  w.Step(id, 1, false, "health check failed: exit code 1");
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"StepFailed", "UpgradeFailed", "RollbackStarted", "StepStarted"}));
  const auto* revert = w.Event(w.log.size() - 1)->event_as_StepStarted();
  BOOST_TEST(revert->revert());
  BOOST_TEST(revert->reverts() == 1u);
  BOOST_TEST(w.Event(mark + 1)->event_as_UpgradeFailed()->reason()->str().find("health check failed") != std::string::npos);
  const size_t mid = w.log.size();
  w.Step(id, 3 + 1);  // the revert of plan step 1
  BOOST_REQUIRE((w.TypesSince(mid) == Types{"StepSucceeded", "TrafficShifted", "RollbackCompleted"}));
  BOOST_TEST(w.Phase(id) == "rolled_back");
  BOOST_TEST(w.state.registry.find("db")->version == "1.4.0");
}

BOOST_AUTO_TEST_CASE(failed_revert_ends_in_rollback_failed) {
  World w;
  GivenStack(w);
  const proj::Id id = w.Upgrade(To("db", "1.5.0"));
  w.Step(id, 0, false);
  const size_t mark = w.log.size();
  w.Step(id, 1, false, "revert hook exit code 2");
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"StepFailed", "RollbackFailed"}));
  BOOST_TEST(w.Phase(id) == "rollback_failed");
  BOOST_TEST(w.state.status.busy.empty());
}

BOOST_AUTO_TEST_CASE(timeout_fails_and_rolls_back_but_early_timers_do_nothing) {
  World w;
  GivenStack(w);
  auto r = To("db", "1.5.0");
  r.timeout_ms = 5000;
  const proj::Id id = w.Upgrade(r);
  const size_t mark = w.log.size();
  w.Run(engine::cmd::Timer(id, "deadline"));
  BOOST_TEST(w.log.size() == mark);
  w.now_ns += 5'000'000'000;
  w.Run(engine::cmd::Timer(id, "deadline"));
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradeFailed", "RollbackStarted"}));
  BOOST_TEST(w.Event(mark)->event_as_UpgradeFailed()->reason()->str() == "timed out after 5000 ms");
  // The running step is waited for before its revert starts
  BOOST_TEST(w.Phase(id) == "rolling_back");
  w.Step(id, 0);
  w.Step(id, 1);
  BOOST_TEST(w.Phase(id) == "rolled_back");
}

BOOST_AUTO_TEST_CASE(cancel_mid_way_rolls_back_applied_steps_and_queued_cancel_just_ends) {
  World w;
  GivenStack(w);
  auto r = To("db", "1.5.0");
  r.strategy.kind = fb::StrategyKind::Gradual;
  r.strategy.steps = 4;
  const proj::Id id = w.Upgrade(r);
  w.Step(id, 0);
  w.Step(id, 1);
  const proj::Id queued = w.Upgrade(To("db", "1.6.0"));
  BOOST_TEST(w.Phase(queued) == "queued");
  auto c = w.Run(engine::cmd::Cancel(queued, "changed my mind"));
  BOOST_TEST(!c.rejected);
  BOOST_TEST(w.Phase(queued) == "cancelled");
  const size_t mark = w.log.size();
  w.Run(engine::cmd::Cancel(id, "operator"));
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradeCancelled", "RollbackStarted"}));
  w.Step(id, 2);  // the step in flight finishes; then its revert starts
  BOOST_TEST(w.Find(id)->revert_running);
  w.Step(id, 4 + 2);
  BOOST_TEST(w.Phase(id) == "rolled_back");
  BOOST_TEST(w.state.registry.find("db")->version == "1.4.0");
  auto again = w.Run(engine::cmd::Cancel(id, ""));
  BOOST_TEST((again.code == fb::RejectCode::NotFound));
}

BOOST_AUTO_TEST_CASE(different_components_upgrade_at_once_same_component_queues_by_priority) {
  World w;
  GivenStack(w);
  const proj::Id a = w.Upgrade(To("db", "1.5.0"));
  const proj::Id b = w.Upgrade(To("web", "3.1.0"));
  BOOST_TEST(w.Phase(a) == "running");
  BOOST_TEST(w.Phase(b) == "running");
  auto low = To("db", "1.6.0");
  low.priority = 1;
  auto high = To("db", "1.7.0");
  high.priority = 9;
  const proj::Id l = w.Upgrade(low);
  const proj::Id h = w.Upgrade(high);
  BOOST_TEST(w.Phase(l) == "queued");
  BOOST_TEST(w.Phase(h) == "queued");
  w.Step(a, 0);
  // The higher priority starts when db is free; the lower waits on
  BOOST_TEST(w.Phase(h) == "running");
  BOOST_TEST(w.Phase(l) == "queued");
  w.Step(h, 0);
  BOOST_TEST(w.state.registry.find("db")->version == "1.7.0");
  // 1.6.0 is now a downgrade from 1.7.0: still compatible, it runs
  BOOST_TEST(w.Phase(l) == "running");
}

BOOST_AUTO_TEST_CASE(max_running_limits_upgrades_in_flight) {
  World w;
  w.limits.max_running = 1;
  GivenStack(w);
  const proj::Id a = w.Upgrade(To("db", "1.5.0"));
  const proj::Id b = w.Upgrade(To("web", "3.1.0"));
  BOOST_TEST(w.Phase(b) == "queued");
  w.Step(a, 0);
  BOOST_TEST(w.Phase(b) == "running");
}

BOOST_AUTO_TEST_CASE(canary_pauses_until_promoted_and_completes) {
  World w;
  GivenStack(w);
  auto r = To("api", "2.2.0");
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {10, 50, 100};
  const proj::Id id = w.Upgrade(r);
  size_t mark = w.log.size();
  w.Step(id, 0);
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"StepSucceeded", "TrafficShifted", "UpgradePaused"}));
  BOOST_TEST(w.Phase(id) == "paused");
  BOOST_TEST(w.Find(id)->weight == 10);
  // A step result or a second promote while paused is refused
  engine::cmd::StepReport next;
  next.upgrade_id = id;
  next.step = 1;
  auto early = w.Run(engine::cmd::StepResult(next));
  BOOST_TEST((early.code == fb::RejectCode::Conflict));
  mark = w.log.size();
  w.Run(engine::cmd::Promote(id));
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradePromoted", "StepStarted"}));
  w.Run(engine::cmd::Health(id, "", true, "p99 ok"));
  w.Step(id, 1);
  BOOST_TEST(w.Find(id)->weight == 50);
  w.Run(engine::cmd::Promote(id));
  w.Step(id, 2);
  BOOST_TEST(w.Phase(id) == "completed");
  BOOST_TEST(w.state.registry.find("api")->version == "2.2.0");
}

BOOST_AUTO_TEST_CASE(canary_pause_timer_promotes_and_unhealthy_analysis_rolls_back) {
  World w;
  GivenStack(w);
  auto r = To("api", "2.2.0");
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {10, 100};
  r.strategy.pause_ms = 60000;
  const proj::Id id = w.Upgrade(r);
  w.Step(id, 0);
  w.Run(engine::cmd::Timer(id, "pause"));
  BOOST_TEST(w.Phase(id) == "paused");  // too early
  w.now_ns += 60'000'000'000;
  w.Run(engine::cmd::Timer(id, "pause"));
  BOOST_TEST(w.Phase(id) == "running");
  const size_t mark = w.log.size();
  w.Run(engine::cmd::Health(id, "api-1", false, "error rate 7%"));
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"HealthCheckRecorded", "UpgradeFailed", "RollbackStarted"}));
  BOOST_TEST(w.Event(mark + 1)->event_as_UpgradeFailed()->reason()->str() == "health check failed on api-1: error rate 7%");
}

BOOST_AUTO_TEST_CASE(canary_abort_sends_traffic_back) {
  World w;
  GivenStack(w);
  auto r = To("api", "2.2.0");
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {25, 100};
  const proj::Id id = w.Upgrade(r);
  w.Step(id, 0);
  const size_t mark = w.log.size();
  w.Run(engine::cmd::Abort(id, "latency"));
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"UpgradeAborted", "RollbackStarted", "StepStarted"}));
  w.Step(id, 2 + 0);
  BOOST_TEST(w.Find(id) == nullptr);
  BOOST_TEST(w.Phase(id) == "rolled_back");
  const auto* shift = w.Event(w.log.size() - 2)->event_as_TrafficShifted();
  BOOST_REQUIRE(shift != nullptr);
  BOOST_TEST(shift->from_weight() == 25);
  BOOST_TEST(shift->to_weight() == 0);
}

BOOST_AUTO_TEST_CASE(blue_green_deploys_verifies_then_switches) {
  World w;
  GivenStack(w);
  auto r = To("web", "3.1.0");
  r.strategy.kind = fb::StrategyKind::BlueGreen;
  const proj::Id id = w.Upgrade(r);
  std::vector<std::string> actions;
  for (uint32_t s = 0; s < 3; ++s) {
    const auto* started = w.Event(w.log.size() - 1)->event_as_StepStarted();
    BOOST_REQUIRE(started != nullptr);
    actions.push_back(started->action()->str());
    BOOST_TEST(w.Find(id)->weight == (s == 0 ? 0 : 0));
    w.Step(id, s);
  }
  BOOST_TEST((actions == Types{"deploy", "verify", "switch"}));
  BOOST_TEST(w.Phase(id) == "completed");
}

BOOST_AUTO_TEST_CASE(rolling_never_has_more_than_max_unavailable_steps_in_flight) {
  World w;
  auto c = MakeComponent("edge", "1.0.0");
  c.instances = {"e1", "e2", "e3", "e4", "e5"};
  w.Register(c);
  auto r = To("edge", "1.1.0");
  r.strategy.kind = fb::StrategyKind::Rolling;
  r.strategy.max_unavailable = 2;
  const size_t mark = w.log.size();
  const proj::Id id = w.Upgrade(r);
  for (uint32_t s = 0; s < 5; ++s) w.Step(id, s);
  BOOST_TEST(w.Phase(id) == "completed");
  int in_flight = 0, most = 0, started = 0;
  for (size_t i = mark; i < w.log.size(); ++i) {
    const auto type = w.Event(i)->event_type();
    if (type == fb::Event::StepStarted) most = std::max(most, ++in_flight), ++started;
    if (type == fb::Event::StepSucceeded || type == fb::Event::StepFailed) --in_flight;
  }
  BOOST_TEST(most == 2);
  BOOST_TEST(started == 5);
}

BOOST_AUTO_TEST_CASE(rolling_failure_reverts_upgraded_instances_first_then_the_failed_one) {
  World w;
  auto c = MakeComponent("edge", "1.0.0");
  c.instances = {"e1", "e2", "e3"};
  w.Register(c);
  auto r = To("edge", "1.1.0");
  r.strategy.kind = fb::StrategyKind::Rolling;
  const proj::Id id = w.Upgrade(r);
  w.Step(id, 0);
  w.Step(id, 1, false);
  std::vector<std::string> reverted;
  while (w.Find(id) != nullptr && w.Find(id)->revert_running) {
    const auto* st = w.Event(w.log.size() - 1)->event_as_StepStarted();
    BOOST_REQUIRE(st != nullptr);
    reverted.push_back(st->instance()->str());
    w.Step(id, st->step());
  }
  BOOST_TEST((reverted == Types{"e1", "e2"}));
  BOOST_TEST(w.Phase(id) == "rolled_back");
}

BOOST_AUTO_TEST_CASE(dry_run_returns_the_plan_and_writes_nothing) {
  World w;
  GivenStack(w);
  auto r = To("api", "2.2.0");
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {10, 100};
  r.dry_run = true;
  const size_t mark = w.log.size();
  auto d = w.Run(engine::cmd::Upgrade(r));
  BOOST_TEST(!d.rejected);
  BOOST_TEST(w.log.size() == mark);
  BOOST_TEST(d.appends.empty());
  auto plan = nlohmann::json::parse(d.result_json);
  BOOST_TEST(plan["valid"].get<bool>());
  BOOST_TEST(plan["plan"].size() == 2u);
  BOOST_TEST(plan["plan"][0]["weight"].get<int>() == 10);
  BOOST_TEST(plan["plan"][0]["pause"].get<bool>());
  // A dry run of an invalid request lists the reasons, still writing nothing
  auto bad = To("api", "3.0.0");
  bad.dry_run = true;
  auto b = w.Run(engine::cmd::Upgrade(bad));
  BOOST_TEST(b.rejected);
  BOOST_TEST(HasIssue(b, "breaking_change"));
  BOOST_TEST(w.log.size() == mark);
}

BOOST_AUTO_TEST_CASE(strategy_must_fit_the_component) {
  World w;
  auto c = MakeComponent("kernel", "5.0.0");
  c.hot_swappable = false;
  c.critical = true;
  w.Register(c);
  auto r = To("kernel", "5.1.0");
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {50, 100};
  auto d = w.Run(engine::cmd::Upgrade(r));
  BOOST_TEST(HasIssue(d, "not_hot_swappable"));
  BOOST_TEST(HasIssue(d, "critical_needs_strict"));
  // Immediate at strict with a new artifact: restarted, not swapped
  auto ok = To("kernel", "5.1.0");
  ok.level = fb::ValidationLevel::Strict;
  auto target = c;
  target.version = "5.1.0";
  target.artifact_sha256 = std::string(64, 'a');
  ok.target = target;
  const proj::Id id = w.Upgrade(ok);
  BOOST_TEST((w.Find(id)->plan.front().action == fb::StepAction::Restart));
}

BOOST_AUTO_TEST_CASE(recover_fails_interrupted_steps_and_reruns_interrupted_reverts) {
  World w;
  GivenStack(w);
  const proj::Id a = w.Upgrade(To("db", "1.5.0"));  // step 0 running
  const proj::Id b = w.Upgrade(To("web", "3.1.0"));
  w.Step(b, 0, false);  // its revert is running
  const size_t mark = w.log.size();
  w.Recover();
  BOOST_TEST(w.Phase(a) == "rolling_back");
  BOOST_TEST(w.Find(a)->revert_running);
  BOOST_TEST(w.Find(b)->revert_running);
  auto types = w.TypesSince(mark);
  BOOST_TEST(std::count(types.begin(), types.end(), "StepStarted") == 2);
  std::string reason;
  for (size_t i = mark; i < w.log.size(); ++i) {
    if (const auto* f = w.Event(i)->event_as_StepFailed()) reason = f->reason()->str();
  }
  BOOST_TEST(reason.find("interrupted") != std::string::npos);
  w.Step(a, 1);
  w.Step(b, 1);
  BOOST_TEST(w.state.status.upgrades.empty());
}

BOOST_AUTO_TEST_CASE(deregister_refuses_components_in_use) {
  World w;
  GivenStack(w);
  BOOST_TEST((w.Run(engine::cmd::Deregister("db", "")).code == fb::RejectCode::Conflict));
  BOOST_TEST((w.Run(engine::cmd::Deregister("nope", "")).code == fb::RejectCode::NotFound));
  BOOST_TEST(!w.Run(engine::cmd::Deregister("web", "retired")).rejected);
  BOOST_TEST(w.state.registry.find("web") == nullptr);
}

BOOST_AUTO_TEST_CASE(without_rollback_a_failure_ends_the_upgrade_where_it_stands) {
  World w;
  GivenStack(w);
  auto r = To("db", "1.5.0");
  r.rollback_enabled = false;
  r.strategy.kind = fb::StrategyKind::Gradual;
  r.strategy.steps = 2;
  const proj::Id id = w.Upgrade(r);
  w.Step(id, 0);
  const size_t mark = w.log.size();
  w.Step(id, 1, false);
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"StepFailed", "UpgradeFailed"}));
  BOOST_TEST(!w.Event(mark + 1)->event_as_UpgradeFailed()->rollback());
  BOOST_TEST(w.Phase(id) == "failed");
  BOOST_TEST(w.state.status.busy.empty());
  BOOST_TEST(w.state.registry.find("db")->version == "1.4.0");
}

BOOST_AUTO_TEST_CASE(a_failed_revert_does_not_stop_the_other_reverts) {
  World w;
  auto c = MakeComponent("edge", "1.0.0");
  c.instances = {"e1", "e2", "e3"};
  w.Register(c);
  auto r = To("edge", "1.1.0");
  r.strategy.kind = fb::StrategyKind::Rolling;
  const proj::Id id = w.Upgrade(r);
  w.Step(id, 0);
  w.Step(id, 1);
  w.Step(id, 2, false, "timed out");  // e3's host is gone
  // reverts: e2, e1 (upgraded), then e3; e3's revert fails too
  w.Step(id, 3 + 1);
  w.Step(id, 3 + 0);
  const size_t mark = w.log.size();
  w.Step(id, 3 + 2, false, "timed out");
  BOOST_REQUIRE((w.TypesSince(mark) == Types{"StepFailed", "RollbackFailed"}));
  BOOST_TEST(w.Event(w.log.size() - 1)->event_as_RollbackFailed()->reason()->str() == "revert of step 3 on e3: timed out");
  BOOST_TEST(w.Phase(id) == "rollback_failed");
}

namespace {
std::string Announce(const std::vector<std::string>& instances, const std::string& agent = "host-a") {
  flatbuffers::FlatBufferBuilder b;
  const fb::Id128 cid = noodle::NewId();
  auto body = fb::CreateAnnounceAgent(b, b.CreateString(agent), b.CreateVectorOfStrings(instances));
  b.Finish(fb::CreateCommandEnvelope(b, &cid, 0, b.CreateString("agent"), nullptr, fb::Command::AnnounceAgent, body.Union()),
           fb::CommandEnvelopeIdentifier());
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}
}  // namespace

BOOST_AUTO_TEST_CASE(agents_announce_their_instances_once) {
  World w;
  auto announce = [](const std::vector<std::string>& instances) { return Announce(instances); };
  w.Run(announce({"a1", "a2"}));
  BOOST_REQUIRE((w.TypesSince(0) == Types{"AgentAnnounced"}));
  w.Run(announce({"a1", "a2"}));
  BOOST_TEST(w.log.size() == 1u);
  w.Run(announce({"a1", "a2", "a3"}));
  BOOST_TEST(w.log.size() == 2u);
  BOOST_TEST(w.state.status.agents.at("host-a").size() == 3u);
  BOOST_TEST(w.Run(announce({""})).rejected);
}

BOOST_AUTO_TEST_CASE(a_canary_of_an_agent_run_component_spreads_over_its_instances) {
  World w;
  w.Run(Announce({"i1", "i2"}, "host-a"));
  w.Run(Announce({"i3", "i4"}, "host-b"));
  auto c = MakeComponent("edge", "1.0.0");
  c.executor = fb::ExecutorKind::Agent;
  c.instances = {"i1", "i2", "i3", "i4"};
  w.Register(c);
  auto r = To("edge", "1.1.0");
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {25, 100};
  const proj::Id id = w.Upgrade(r);
  // 25 % of four instances: the first one, then a pause
  BOOST_TEST(w.Find(id)->plan.size() == 4u);
  BOOST_TEST(w.Event(w.log.size() - 1)->event_as_StepStarted()->instance()->str() == "i1");
  w.Step(id, 0);
  BOOST_TEST(w.Phase(id) == "paused");
  BOOST_TEST(w.Find(id)->weight == 25);
  w.Run(engine::cmd::Promote(id));
  for (uint32_t s = 1; s < 4; ++s) {
    BOOST_TEST(w.Event(w.log.size() - 1)->event_as_StepStarted()->instance()->str() == "i" + std::to_string(s + 1));
    w.Step(id, s);
  }
  BOOST_TEST(w.Phase(id) == "completed");
}

BOOST_AUTO_TEST_CASE(agent_run_components_need_announced_instances_and_no_blue_green) {
  World w;
  w.Run(Announce({"i1"}));
  auto c = MakeComponent("edge", "1.0.0");
  c.executor = fb::ExecutorKind::Agent;
  c.instances = {"i1", "i9"};
  w.Register(c);
  auto r = To("edge", "1.1.0");
  r.strategy.kind = fb::StrategyKind::BlueGreen;
  auto d = w.Run(engine::cmd::Upgrade(r));
  BOOST_TEST(HasIssue(d, "instance_without_agent"));
  BOOST_TEST(HasIssue(d, "strategy_unsupported"));
  BOOST_TEST(d.errors.size() == 2u);
}
