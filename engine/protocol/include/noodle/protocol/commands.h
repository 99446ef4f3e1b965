// Builders of CommandEnvelope buffers, for clients, tools and tests.
// Each returns the finished FlatBuffers bytes (identifier "NCCM").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "noodle/engine/executor.h"
#include "noodle/fb/commands_generated.h"
#include "noodle/projections/component.h"
#include "noodle/projections/status.h"

namespace noodle::engine::cmd {

// Fields every command carries.
struct Meta {
  proj::Id command_id;  // zero: a fresh random id
  int64_t time_ns = 0;
  std::string actor;
};

struct UpgradeRequest {
  proj::Id upgrade_id;  // zero: a fresh random id
  std::string component;
  std::string expected_version;
  std::string target_version;
  std::optional<proj::Component> target;
  proj::StrategySpec strategy;  // the one strategy type, as events and status carry it
  int32_t priority = 0;
  uint32_t timeout_ms = 600000;
  bool rollback_enabled = true;
  fb::ValidationLevel level = fb::ValidationLevel::Standard;
  bool allow_breaking = false;
  std::string requested_by;
  bool dry_run = false;
};

// A step's outcome, addressed to its step: what ReportStepResult carries.
// Unlike a bare StepOutcome it defaults to success (the common report).
struct StepReport : StepOutcome {
  StepReport() { succeeded = true; }
  StepReport(const proj::Id& id, uint32_t n, const StepOutcome& o) : StepOutcome(o), upgrade_id(id), step(n) {}
  proj::Id upgrade_id;
  uint32_t step = 0;
};

std::string Register(const proj::Component& c, const Meta& m = {});
std::string Deregister(const std::string& name, const std::string& reason, const Meta& m = {});
// The upgrade id used is written to *id when id is not null.
std::string Upgrade(const UpgradeRequest& r, const Meta& m = {}, proj::Id* id = nullptr);
std::string Cancel(const proj::Id& upgrade, const std::string& reason, const Meta& m = {});
std::string Abort(const proj::Id& upgrade, const std::string& reason, const Meta& m = {});
std::string Promote(const proj::Id& upgrade, const Meta& m = {});
// An operator's pause: steps in flight finish, none starts until Resume.
std::string Pause(const proj::Id& upgrade, const std::string& reason, const Meta& m = {});
std::string Resume(const proj::Id& upgrade, const Meta& m = {});
std::string Point(const std::string& name, const Meta& m = {});
// Exactly one of point, to_seq, to_time_ns should be set.
// dry_run: the reply carries the plan as JSON and nothing changes.
std::string RollBack(const std::string& point, uint64_t to_seq, int64_t to_time_ns, const std::string& reason,
                     const Meta& m = {}, bool dry_run = false);
std::string StepResult(const StepReport& r, const Meta& m = {});
std::string Health(const proj::Id& upgrade, const std::string& instance, bool healthy, const std::string& detail,
                   const Meta& m = {});
std::string Timer(const proj::Id& upgrade, fb::TimerKind timer, const Meta& m = {});
// By name ("deadline", "pause"); a name this build does not know becomes
// Unspecified, which the decider refuses.
std::string Timer(const proj::Id& upgrade, const std::string& timer, const Meta& m = {});
// A timer kind's name ("deadline"); "" for Unspecified and unknown values.
const char* TimerName(fb::TimerKind k);
// Queries (answered by the engine, not the decider).
std::string QueryStatus(const proj::Id& upgrade = {}, const Meta& m = {});
std::string QueryRegistry(const std::string& component = "", const Meta& m = {});
std::string QueryStatistics(const std::string& component = "", const Meta& m = {});
std::string QueryEvents(const std::string& stream, uint64_t from_version = 1, uint32_t limit = 1000, const Meta& m = {});
// Listings are paged (Reply::next): these ask for the page after `after`,
// a next of an earlier reply ("": the first page). QueryEvents pages by
// from_version.
std::string QueryRegistryPage(const std::string& after, uint32_t limit = 0, const Meta& m = {});
std::string QueryStatusPage(const std::string& after, const Meta& m = {});
std::string QueryStatisticsPage(const std::string& after, const Meta& m = {});

// What an executor's outcome becomes on its way back to the engine: a
// ReportHealth (when a health check ran) and the ReportStepResult, in order.
struct StepOutcomeReport {
  proj::Id upgrade_id;
  uint32_t step = 0;
  std::string instance;
};
std::vector<std::string> OutcomeCommands(const StepOutcomeReport& step, const StepOutcome& outcome, const Meta& m);

// The envelope in bytes if they pass the Verifier (identifier included), else nullptr.
const fb::CommandEnvelope* VerifyCommand(std::string_view bytes);

}  // namespace noodle::engine::cmd
