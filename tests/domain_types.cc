// Domain values typed by the schema (issue 11, point 4): step actions, timer
// kinds and validation codes are enums; the strings older releases wrote are
// still read, and values from a newer writer are handled, never guessed at.
// Given events or commands as an older, this or a newer writer sends them /
// when read / then what this build makes of them.
#define BOOST_TEST_MODULE domain_types
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <functional>
#include <future>

#include <nlohmann/json.hpp>

#include "noodle/engine/hook_executor.h"
#include "noodle/engine/semver.h"
#include "noodle/envelope.h"
#include "noodle/projections/codec.h"
#include "noodle/protocol/commands.h"
#include "support/test_support.h"
#include "support/world.h"

using namespace noodle;
using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using test::MakeComponent;
using test::World;

namespace {

const fb::Id128 kUpgrade(7, 9);
// Values no enum of this build has: what a newer writer may send.
constexpr auto kNewerAction = static_cast<fb::StepAction>(200);
constexpr auto kNewerTimer = static_cast<fb::TimerKind>(9);

std::string Event(uint64_t seq, fb::Event type, const std::function<Offset<void>(FlatBufferBuilder&)>& build) {
  FlatBufferBuilder fbb;
  const Offset<void> payload = build(fbb);
  EventMeta meta;
  meta.event_id = fb::Id128(seq, 1);
  meta.stream = "upgrade/x";
  std::string bytes = FinishEvent(fbb, meta, type, payload);
  fb::GetMutableEventEnvelope(bytes.data())->mutate_seq(seq);
  return bytes;
}

struct Planned {
  const char* action;  // the string field (required by the schema)
  fb::StepAction kind;  // Unspecified: absent, as 0.1.0 wrote it
};

// The status after an upgrade was requested and validated with this plan.
proj::Status Validated(const std::vector<Planned>& plan) {
  proj::Status s;
  proj::Evolve(s, *fb::GetEventEnvelope(Event(1, fb::Event::UpgradeRequested, [](FlatBufferBuilder& fbb) {
                 return fb::CreateUpgradeRequestedDirect(fbb, &kUpgrade, "shop", nullptr, "2.0.0").Union();
               }).data()));
  proj::Evolve(s, *fb::GetEventEnvelope(Event(2, fb::Event::UpgradeValidated, [&](FlatBufferBuilder& fbb) {
                 std::vector<Offset<fb::PlannedStep>> steps;
                 for (const auto& p : plan) {
                   steps.push_back(fb::CreatePlannedStepDirect(fbb, p.action, "", 50, false, p.kind));
                 }
                 return fb::CreateUpgradeValidatedDirect(fbb, &kUpgrade, fb::ValidationLevel::Standard, false, nullptr,
                                                         &steps)
                     .Union();
               }).data()));
  return s;
}

std::vector<fb::StepAction> PlanActions(const proj::Status& s) {
  std::vector<fb::StepAction> out;
  if (const proj::Upgrade* u = s.find(proj::Id::From(&kUpgrade))) {
    for (const auto& p : u->plan) out.push_back(p.action);
  }
  return out;
}

engine::cmd::UpgradeRequest To(const std::string& component, const std::string& version) {
  engine::cmd::UpgradeRequest r;
  r.component = component;
  r.target_version = version;
  return r;
}

engine::StepOutcome RunStep(const engine::HookExecutorOptions& options, const engine::StepRequest& step) {
  auto executor = engine::NewHookExecutor(options);
  std::promise<engine::StepOutcome> done;
  auto result = done.get_future();
  executor->Start(step, [&done](engine::StepOutcome o) { done.set_value(std::move(o)); });
  return result.get();
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(step_actions)

BOOST_AUTO_TEST_CASE(every_action_has_a_wire_name_that_reads_back) {
  for (fb::StepAction a : fb::EnumValuesStepAction()) {
    if (a == fb::StepAction::Unspecified) continue;
    BOOST_TEST_CONTEXT(fb::EnumNameStepAction(a)) {
      BOOST_TEST(std::string(proj::StepActionName(a)).size() > 0u);
      BOOST_TEST((proj::StepActionFromName(proj::StepActionName(a)) == a));
    }
  }
  BOOST_TEST(std::string(proj::StepActionName(fb::StepAction::Switch)) == "switch");
  BOOST_TEST(std::string(proj::StepActionName(kNewerAction)) == "");
  BOOST_TEST((proj::StepActionFromName("drain") == fb::StepAction::Unspecified));
}

BOOST_AUTO_TEST_CASE(a_plan_written_before_the_enum_is_read_from_its_strings) {
  // Given a plan as 0.1.0 wrote it: action strings, no action_kind
  const proj::Status s = Validated({{"deploy", fb::StepAction::Unspecified},
                                    {"verify", fb::StepAction::Unspecified},
                                    {"switch", fb::StepAction::Unspecified}});
  // When folded, then the actions are the strings' (the order kept)
  BOOST_TEST((PlanActions(s) ==
              std::vector{fb::StepAction::Deploy, fb::StepAction::Verify, fb::StepAction::Switch}));
}

BOOST_AUTO_TEST_CASE(the_enum_wins_over_the_string_when_both_are_there) {
  // Given a writer whose string and enum disagree (no writer does; the enum is authoritative)
  const proj::Status s = Validated({{"swap", fb::StepAction::Restart}});
  // Then the enum is read
  BOOST_TEST((PlanActions(s) == std::vector{fb::StepAction::Restart}));
}

BOOST_AUTO_TEST_CASE(an_action_from_a_newer_writer_is_read_by_its_string_or_left_unspecified) {
  // Given a newer writer's action value: with a string this build knows, and with one it does not
  // (the string is required by the schema: "" is the least a writer sends)
  const proj::Status s = Validated({{"shift", kNewerAction}, {"drain", kNewerAction}, {"", kNewerAction}});
  // Then the known string is taken, the others are Unspecified (never a guessed action)
  BOOST_TEST((PlanActions(s) ==
              std::vector{fb::StepAction::Shift, fb::StepAction::Unspecified, fb::StepAction::Unspecified}));
  // And a snapshot of that status reads back the same
  proj::Status back;
  BOOST_REQUIRE(proj::Decode(proj::Encode(s), &back).ok());
  BOOST_TEST((back == s));
}

BOOST_AUTO_TEST_CASE(status_snapshots_name_actions_as_before) {
  // Given a planned step, when the status is written as a snapshot (MessagePack), then its action is the wire name
  const proj::Status s = Validated({{"shift", fb::StepAction::Shift}});
  const std::string blob = proj::Encode(s);
  const std::string json = nlohmann::json::from_msgpack(blob).dump();
  BOOST_TEST(Contains(json, "\"action\":\"shift\""), json);
}

BOOST_AUTO_TEST_CASE(the_engine_writes_the_enum_and_the_string) {
  World w;
  w.Register(MakeComponent("shop", "1.0.0"));
  auto r = To("shop", "1.1.0");
  r.strategy.kind = fb::StrategyKind::BlueGreen;
  const size_t mark = w.log.size();
  w.Upgrade(r);
  // When the engine plans and starts a blue-green upgrade
  const fb::UpgradeValidated* validated = nullptr;
  const fb::StepStarted* started = nullptr;
  for (size_t i = mark; i < w.log.size(); ++i) {
    if (!validated) validated = w.Event(i)->event_as_UpgradeValidated();
    if (!started) started = w.Event(i)->event_as_StepStarted();
  }
  BOOST_REQUIRE(validated != nullptr);
  BOOST_REQUIRE(started != nullptr);
  // Then each planned step carries both, and so does StepStarted (older readers take the string)
  const std::vector<std::pair<fb::StepAction, std::string>> expected = {
      {fb::StepAction::Deploy, "deploy"}, {fb::StepAction::Verify, "verify"}, {fb::StepAction::Switch, "switch"}};
  BOOST_REQUIRE(validated->plan()->size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST((validated->plan()->Get(i)->action_kind() == expected[i].first));
    BOOST_TEST(validated->plan()->Get(i)->action()->str() == expected[i].second);
  }
  BOOST_TEST((started->action_kind() == fb::StepAction::Deploy));
  BOOST_TEST(started->action()->str() == "deploy");
}

BOOST_AUTO_TEST_CASE(a_step_with_an_unknown_action_fails_and_runs_nothing) {
  test::TempDir dir;
  const std::string marker = dir.sub("ran");
  engine::HookExecutorOptions options;
  options.allow_shell = true;
  engine::StepRequest step;
  step.upgrade_id = {1, 2};
  step.from.name = step.to.name = "shop";
  step.from.version = "1.0.0";
  step.to.version = "1.1.0";
  step.to.hooks["swap"] = proj::Hook{{"touch '" + marker + "'"}, true, 10000};
  // Given a step whose action this build does not know (a newer engine planned it)
  step.action = fb::StepAction::Unspecified;
  // When the hook executor gets it, then it fails, says why, and runs no hook
  const engine::StepOutcome unknown = RunStep(options, step);
  BOOST_TEST(!unknown.succeeded);
  BOOST_TEST(Contains(unknown.reason, "action this executor does not know"));
  BOOST_TEST(!std::filesystem::exists(marker));
  // And the same step with a known action runs its swap hook
  step.action = fb::StepAction::Swap;
  const engine::StepOutcome known = RunStep(options, step);
  BOOST_TEST(known.succeeded, known.reason);
  BOOST_TEST(std::filesystem::exists(marker));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(timer_kinds)

BOOST_AUTO_TEST_CASE(timers_are_built_by_kind_and_by_name) {
  // When the command is built by name, then it carries the kind
  const std::string pause = engine::cmd::Timer({1, 2}, "pause");
  BOOST_TEST((engine::cmd::VerifyCommand(pause)->command_as_TimerFired()->kind() == fb::TimerKind::Pause));
  const std::string deadline = engine::cmd::Timer({1, 2}, fb::TimerKind::Deadline);
  BOOST_TEST((engine::cmd::VerifyCommand(deadline)->command_as_TimerFired()->kind() == fb::TimerKind::Deadline));
  // And a name this build does not know is Unspecified
  const std::string other = engine::cmd::Timer({1, 2}, "tea-time");
  BOOST_TEST((engine::cmd::VerifyCommand(other)->command_as_TimerFired()->kind() == fb::TimerKind::Unspecified));
  BOOST_TEST(std::string(engine::cmd::TimerName(fb::TimerKind::Deadline)) == "deadline");
}

BOOST_AUTO_TEST_CASE(a_deadline_fails_the_upgrade_and_an_unknown_timer_decides_nothing) {
  World w;
  w.Register(MakeComponent("shop", "1.0.0"));
  auto r = To("shop", "1.1.0");
  r.timeout_ms = 1000;
  const proj::Id id = w.Upgrade(r);
  w.now_ns += 2'000'000'000;
  // Given a timer kind from a newer engine, when it fires, then it is refused and nothing is recorded
  size_t mark = w.log.size();
  auto unknown = w.Run(engine::cmd::Timer(id, kNewerTimer));
  BOOST_TEST(unknown.rejected);
  BOOST_TEST((unknown.code == fb::RejectCode::Invalid));
  BOOST_TEST(w.log.size() == mark);
  BOOST_TEST(w.Phase(id) == "running");
  // When the deadline fires after the timeout, then the upgrade fails and rolls back its running step
  w.Run(engine::cmd::Timer(id, fb::TimerKind::Deadline));
  BOOST_TEST((w.TypesSince(mark).at(0) == "UpgradeFailed"));
  BOOST_TEST(w.Phase(id) == "rolling_back");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(validation_codes)

BOOST_AUTO_TEST_CASE(every_code_has_its_snake_case_wire_name) {
  for (fb::ValidationCode c : fb::EnumValuesValidationCode()) {
    if (c == fb::ValidationCode::Unspecified) continue;
    BOOST_TEST_CONTEXT(fb::EnumNameValidationCode(c)) {
      BOOST_TEST(!engine::ValidationCodeName(c).empty());
      BOOST_TEST((engine::ValidationCodeFromName(engine::ValidationCodeName(c)) == c));
    }
  }
  BOOST_TEST(engine::ValidationCodeName(fb::ValidationCode::BreakingChange) == "breaking_change");
  BOOST_TEST(engine::ValidationCodeName(fb::ValidationCode::InstanceWithoutAgent) == "instance_without_agent");
  BOOST_TEST(engine::ValidationCodeName(static_cast<fb::ValidationCode>(250)) == "");
}

BOOST_AUTO_TEST_CASE(a_refusal_records_the_kind_and_its_code) {
  World w;
  w.Register(MakeComponent("shop", "1.0.0"));
  const size_t mark = w.log.size();
  // When an upgrade to the current version is requested
  auto d = w.Run(engine::cmd::Upgrade(To("shop", "1.0.0")));
  // Then the refusal says SameVersion, as an enum and as its code
  BOOST_REQUIRE(d.rejected);
  BOOST_REQUIRE(!d.errors.empty());
  BOOST_TEST((d.errors.front().kind == fb::ValidationCode::SameVersion));
  BOOST_TEST(d.errors.front().code == "same_version");
  const fb::UpgradeRejected* rejected = nullptr;
  for (size_t i = mark; i < w.log.size() && rejected == nullptr; ++i) rejected = w.Event(i)->event_as_UpgradeRejected();
  BOOST_REQUIRE(rejected != nullptr);
  BOOST_TEST((rejected->errors()->Get(0)->kind() == fb::ValidationCode::SameVersion));
  BOOST_TEST(rejected->errors()->Get(0)->code()->str() == "same_version");
}

BOOST_AUTO_TEST_CASE(codes_read_from_the_wire_get_their_kind) {
  // Given a reason as an older writer sent it (code string only), then its kind is read from the code
  const engine::Issue old("breaking_change", "target_version", "major version changes");
  BOOST_TEST((old.kind == fb::ValidationCode::BreakingChange));
  // Given a code from a newer engine, then the kind is Unspecified and the code is kept for display
  const engine::Issue newer("quota_exhausted", "", "over quota");
  BOOST_TEST((newer.kind == fb::ValidationCode::Unspecified));
  BOOST_TEST(newer.code == "quota_exhausted");
}

BOOST_AUTO_TEST_CASE(version_moves_are_typed_and_validation_branches_on_the_type) {
  auto change = [](const char* a, const char* b) {
    return semver::CheckCompatibility(semver::Parse(a).value(), semver::Parse(b).value()).change;
  };
  BOOST_TEST((change("1.2.3", "1.2.3") == semver::Change::kSame));
  BOOST_TEST((change("1.2.3", "1.2.4") == semver::Change::kPatch));
  BOOST_TEST((change("1.2.3", "1.3.0") == semver::Change::kMinor));
  BOOST_TEST((change("1.2.3", "1.1.0") == semver::Change::kDowngrade));
  BOOST_TEST((change("1.2.3", "2.0.0") == semver::Change::kMajor));
  BOOST_TEST((change("2.0.0", "1.9.0") == semver::Change::kMajor));
  BOOST_TEST((change("0.3.1", "0.4.0") == semver::Change::kMinorBelowOne));
  BOOST_TEST(semver::CheckCompatibility(semver::Parse("1.0.0").value(), semver::Parse("1.1.0-rc.1").value()).prerelease);

  World w;
  w.Register(MakeComponent("shop", "1.4.0"));
  // When a downgrade within the major version is validated, then it passes with a warning
  const size_t mark = w.log.size();
  auto d = w.Run(engine::cmd::Upgrade(To("shop", "1.3.0")));
  BOOST_REQUIRE(!d.rejected);
  const fb::UpgradeValidated* validated = nullptr;
  for (size_t i = mark; i < w.log.size() && validated == nullptr; ++i) validated = w.Event(i)->event_as_UpgradeValidated();
  BOOST_REQUIRE(validated != nullptr);
  BOOST_REQUIRE(validated->warnings() != nullptr);
  BOOST_REQUIRE(validated->warnings()->size() == 1u);
  BOOST_TEST(Contains(validated->warnings()->Get(0)->str(), "downgrade"));
  // When a major change is asked for without allow_breaking, then it is refused BreakingChange
  World v;
  v.Register(MakeComponent("shop", "1.4.0"));
  auto breaking = v.Run(engine::cmd::Upgrade(To("shop", "2.0.0")));
  BOOST_REQUIRE(breaking.rejected);
  BOOST_TEST((breaking.errors.front().kind == fb::ValidationCode::BreakingChange));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(step_outcomes)

BOOST_AUTO_TEST_CASE(an_outcome_travels_whole_from_the_executor_to_the_event) {
  World w;
  w.Register(MakeComponent("shop", "1.0.0"));
  const proj::Id id = w.Upgrade(To("shop", "1.1.0"));
  // Given an executor's outcome: timed out in its health check, with output and a signer
  engine::StepOutcome o;
  o.timed_out = true;
  o.exit_code = -1;
  o.reason = "health check failed: timed out after 100 ms";
  o.output_tail = "probing...";
  o.duration_ns = 123'456;
  o.health_checked = true;
  o.healthy = false;
  o.health_detail = "timed out after 100 ms";
  o.signer = "release-key";
  // When it becomes commands, then a ReportHealth and the ReportStepResult carry every field
  const auto commands = engine::cmd::OutcomeCommands({id, 0, "shop-1"}, o, {});
  BOOST_REQUIRE(commands.size() == 2u);
  const auto* health = engine::cmd::VerifyCommand(commands[0])->command_as_ReportHealth();
  BOOST_REQUIRE(health != nullptr);
  BOOST_TEST(!health->healthy());
  BOOST_TEST(health->instance()->str() == "shop-1");
  const auto* result = engine::cmd::VerifyCommand(commands[1])->command_as_ReportStepResult();
  BOOST_REQUIRE(result != nullptr);
  BOOST_TEST(!result->succeeded());
  BOOST_TEST(result->timed_out());
  BOOST_TEST(result->exit_code() == -1);
  BOOST_TEST(result->reason()->str() == o.reason);
  BOOST_TEST(result->output_tail()->str() == o.output_tail);
  BOOST_TEST(result->duration_ns() == o.duration_ns);
  BOOST_TEST(result->signer()->str() == o.signer);
  // And when the engine decides the result, then StepFailed records the same outcome
  const size_t mark = w.log.size();
  w.Run(commands[1]);
  const fb::StepFailed* failed = nullptr;
  for (size_t i = mark; i < w.log.size() && failed == nullptr; ++i) failed = w.Event(i)->event_as_StepFailed();
  BOOST_REQUIRE(failed != nullptr);
  BOOST_TEST((failed->outcome() == fb::StepOutcome::TimedOut));
  BOOST_TEST(failed->exit_code() == -1);
  BOOST_TEST(failed->reason()->str() == o.reason);
  BOOST_TEST(failed->output_tail()->str() == o.output_tail);
  BOOST_TEST(failed->duration_ns() == o.duration_ns);
  BOOST_TEST(failed->signer()->str() == o.signer);
}

BOOST_AUTO_TEST_CASE(a_report_defaults_to_success_and_keeps_its_address) {
  // Given a bare report (tools send these), then it is a success for its step
  engine::cmd::StepReport r;
  r.upgrade_id = {3, 4};
  r.step = 2;
  const std::string bytes = engine::cmd::StepResult(r);  // kept: cmd points into it
  const auto* cmd = engine::cmd::VerifyCommand(bytes)->command_as_ReportStepResult();
  BOOST_TEST(cmd->succeeded());
  BOOST_TEST(cmd->step() == 2u);
  BOOST_TEST(cmd->upgrade_id()->lo() == 4u);
  BOOST_TEST(cmd->signer() == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(strategies)

BOOST_AUTO_TEST_CASE(a_strategy_reaches_the_status_as_it_was_requested) {
  World w;
  auto c = MakeComponent("shop", "1.0.0");
  w.Register(c);
  // Given a canary with weights and a pause
  auto r = To("shop", "1.1.0");
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {10, 50, 100};
  r.strategy.pause_ms = 60000;
  const proj::Id id = w.Upgrade(r);
  // Then the upgrade's StrategySpec is the request's, field for field
  BOOST_REQUIRE(w.Find(id) != nullptr);
  BOOST_TEST((w.Find(id)->strategy == r.strategy));
  // And the schema conversion round-trips it
  FlatBufferBuilder fbb;
  fbb.Finish(proj::ToStrategy(fbb, r.strategy));
  BOOST_TEST((proj::FromStrategy(flatbuffers::GetRoot<fb::Strategy>(fbb.GetBufferPointer())) == r.strategy));
  BOOST_TEST((proj::FromStrategy(nullptr) == proj::StrategySpec{}));
}

BOOST_AUTO_TEST_SUITE_END()
