// One log line per upgrade lifecycle transition, and the upgrade metrics,
// from durable events in seq order (the engine's projector thread):
//   upgrade.requested  upgrade.rejected  upgrade.started  upgrade.step_failed
//   upgrade.paused  upgrade.promoted  upgrade.completed  upgrade.failed
//   upgrade.cancelled  upgrade.aborted  upgrade.rolled_back
//   upgrade.rollback_failed  rollback.started  rollback.completed
//   rollback.failed
// at info (upgrade.step_started and upgrade.step_succeeded at debug), each
// with the fields README "Observability" lists. It keeps what a line needs
// that its event does not say (the component, versions and request time of
// each upgrade in flight, each component's version), folded from the same
// events. Not thread-safe: one thread folds. Internal.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine_metrics.h"
#include "noodle/engine/decider.h"
#include "noodle/fb/events_generated.h"
#include "noodle/observe/log_format.h"

namespace noodle::observe {

class LifecycleLog {
 public:
  // metrics may be null (lines only).
  explicit LifecycleLog(EngineMetrics* metrics) : metrics_(metrics) {}
  // What was in flight when the engine started.
  void Seed(const engine::State& state);
  void Fold(const fb::EventEnvelope& e);

 private:
  struct Step {
    std::string action, instance;
    bool revert = false;
    uint32_t plan_step = 0;  // the plan step it runs or undoes
  };
  struct Tracked {
    std::string component, from, to, strategy, reason;
    int64_t requested_ns = 0;
    std::map<uint32_t, Step> steps;  // running
  };

  // The upgrade's record (made empty if unknown) and the fields every line
  // of it starts with: component, from, to, upgrade.
  Tracked& Of(const fb::Id128* id);
  LogFields Head(const fb::Id128* id);
  // Ends the upgrade: its outcome counted, its duration observed, forgotten.
  void End(const fb::Id128* id, Outcome o, int64_t now_ns);

  void Requested(const fb::EventEnvelope& e, const fb::UpgradeRequested& r);
  void Rejected(const fb::EventEnvelope& e, const fb::UpgradeRejected& r);
  void Validated(const fb::EventEnvelope& e, const fb::UpgradeValidated& v);
  void StepStarted(const fb::EventEnvelope& e, const fb::StepStarted& s);
  void StepEnded(const fb::EventEnvelope& e, const fb::Id128* id, uint32_t step, bool ok, int64_t duration_ns,
                 const fb::StepFailed* failed);
  void Completed(const fb::EventEnvelope& e, const fb::UpgradeCompleted& c);
  void Stopped(const fb::EventEnvelope& e, const fb::Id128* id, const char* msg, Outcome o, bool rollback,
               const flatbuffers::String* reason, const flatbuffers::String* by);
  void RollbackEnded(const fb::EventEnvelope& e, bool ok);
  void PointRollback(const fb::EventEnvelope& e);
  void Canary(const fb::EventEnvelope& e);

  EngineMetrics* const metrics_;
  std::map<std::string, Tracked> upgrades_;        // by id (hex), in flight
  std::map<std::string, std::string> versions_;    // component -> registered version
  std::map<std::string, int64_t> point_rollbacks_;  // rollback id (hex) -> started at
};

}  // namespace noodle::observe
