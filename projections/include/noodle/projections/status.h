// Status projection: every upgrade that has not ended (queued, running,
// paused, rolling back) with its plan and the state of each step; rollback
// points; rollbacks to a point in progress; recent finished upgrades and the
// history count. It is also the engine's working state: the decider reads it.
// Pure: no disk, no sockets. Not thread-safe: one owner folds.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "noodle/fb/events_generated.h"
#include "noodle/projections/component.h"
#include "noodle/projections/time_math.h"

namespace noodle::proj {

enum class Phase : uint8_t {
  kQueued,         // requested, waiting for its component or a free slot
  kRunning,
  kPaused,         // canary: waiting for promote or the pause timer
  kRollingBack,
  kCompleted,      // the rest are ends
  kRejected,
  kFailed,         // failed with no rollback
  kCancelled,      // cancelled with nothing to roll back
  kAborted,
  kRolledBack,
  kRollbackFailed,
};
const char* PhaseName(Phase p);
inline bool IsEnd(Phase p) { return p >= Phase::kCompleted; }

enum class StepState : uint8_t { kPending, kRunning, kSucceeded, kFailed };
// "pending", "running", "succeeded", "failed": the name snapshots and views use.
const char* StepStateName(StepState s);

// A step action's wire name ("swap", "shift"): what the action strings of
// events, snapshots and JSON hold. "" for Unspecified and unknown values.
const char* StepActionName(fb::StepAction a);
// The action a wire name names; Unspecified when it names none.
fb::StepAction StepActionFromName(std::string_view name);
// The action an event says: its enum, else (a writer older than the enum, or
// a value newer than this build) its action string; Unspecified when neither
// is known here.
fb::StepAction ResolveStepAction(fb::StepAction kind, const flatbuffers::String* name);

struct PlanStep {
  fb::StepAction action = fb::StepAction::Unspecified;
  std::string instance;  // empty: the component as a whole
  uint8_t weight = 0;    // traffic share on the new version after the step
  bool pause = false;    // canary: pause after it
  bool operator==(const PlanStep&) const = default;
};

struct StrategySpec {
  fb::StrategyKind kind = fb::StrategyKind::Immediate;
  uint32_t steps = 1;            // gradual
  std::vector<uint8_t> weights;  // canary
  uint32_t pause_ms = 0;         // canary: 0 = until promoted
  uint32_t max_unavailable = 1;  // rolling
  bool operator==(const StrategySpec&) const = default;
};
// The one conversion between the schema's Strategy and StrategySpec (null:
// the defaults).
StrategySpec FromStrategy(const fb::Strategy* st);
flatbuffers::Offset<fb::Strategy> ToStrategy(flatbuffers::FlatBufferBuilder& fbb, const StrategySpec& s);

struct Upgrade {
  Id id;
  Id parent;  // the rollback-to-point operation this belongs to, if any
  std::string component;
  std::string expected_version;
  std::string from_version;  // set when validated
  std::string to_version;
  Component requested_target;  // the request's spec for the new version, if it gave one
  bool has_requested_target = false;
  Component target;  // set when validated: the component after the upgrade
  StrategySpec strategy;
  int32_t priority = 0;
  uint32_t timeout_ms = 0;
  bool rollback_enabled = true;
  fb::ValidationLevel level = fb::ValidationLevel::Standard;
  bool allow_breaking = false;
  std::string requested_by;

  Phase phase = Phase::kQueued;
  Phase cause = Phase::kFailed;  // while rolling back: what started it; while paused: kPaused if an operator paused it
  std::string reason;            // why it failed, was cancelled or rejected
  uint64_t requested_seq = 0;
  int64_t requested_ns = 0;
  int64_t started_ns = 0;  // validated and running
  int64_t finished_ns = 0;
  int64_t pause_until_ns = 0;  // 0 while paused: until promoted
  // An operator's pauses stop the timeout clock (a canary's do not): the
  // time spent in ended ones, and when the current one began (0: none).
  // From the events' own times, so a replay gives the same deadline.
  int64_t paused_ns = 0;
  int64_t paused_since_ns = 0;

  std::vector<PlanStep> plan;
  uint32_t parallel = 1;
  std::vector<StepState> steps;  // one per plan step
  uint8_t weight = 0;            // traffic share on the new version now
  uint32_t unhealthy = 0;        // health checks that failed
  std::vector<uint32_t> reverts;  // plan steps still to revert, in order
  bool revert_running = false;
  std::vector<std::string> revert_failures;  // reverts that failed (the rollback goes on)

  bool operator==(const Upgrade&) const = default;
  // Step numbers: plan steps are 0..n-1; the revert of plan step k is n+k.
  uint32_t RevertStepNumber(uint32_t k) const { return static_cast<uint32_t>(plan.size()) + k; }
  size_t Running() const;
  // When it times out: started + timeout + time paused by an operator; 0
  // (none) while an operator has it paused.
  int64_t deadline_ns() const {
    return paused_since_ns != 0 ? 0 : AddNs(AddNs(started_ns, int64_t{timeout_ms} * 1'000'000), paused_ns);
  }
};

// A finished upgrade, kept (the newest few) for status queries.
struct UpgradeSummary {
  Id id;
  std::string component, from_version, to_version, reason;
  Phase phase = Phase::kCompleted;
  int64_t requested_ns = 0, finished_ns = 0;
  bool operator==(const UpgradeSummary&) const = default;
};

// A rollback to a point, seq or time: the components it must restore or remove.
struct RollbackOp {
  Id id;
  std::string point;
  uint64_t to_seq = 0;
  std::string reason;
  std::vector<Component> restore;
  std::vector<std::string> remove;
  int64_t started_ns = 0;
  std::string failed;  // set when one of its upgrades did not complete
  bool operator==(const RollbackOp&) const = default;
};

// Map nodes of ended upgrades, kept for the next requests to reuse: an
// Upgrade's node (over 1 KB) is past malloc's per-thread caches, and a fold
// requests and ends one per upgrade. Not state: a copy starts empty and
// spares never make two values differ.
template <typename Node>
struct SpareNodes {
  static constexpr size_t kKept = 1024;  // about 1 MB at most
  std::vector<Node> nodes;
  SpareNodes() = default;
  SpareNodes(const SpareNodes&) {}
  SpareNodes& operator=(const SpareNodes&) { return *this; }
  SpareNodes(SpareNodes&&) noexcept = default;
  SpareNodes& operator=(SpareNodes&&) noexcept = default;
  bool operator==(const SpareNodes&) const { return true; }
};

struct Status {
  static constexpr const char* kName = "status";
  static constexpr size_t kRecentKept = 256;
  uint64_t seq = 0;
  int64_t last_time_ns = 0;
  std::map<Id, Upgrade> upgrades;          // not ended
  std::map<std::string, Id> busy;          // component -> its validated, unfinished upgrade
  std::map<std::string, uint32_t> queued;  // component -> upgrades waiting for it
  std::map<std::string, uint64_t> points;  // rollback point name -> seq
  std::map<Id, RollbackOp> rollbacks;      // in progress
  std::deque<UpgradeSummary> recent;       // newest last
  std::map<std::string, std::vector<std::string>> agents;  // agent -> instances it runs
  uint64_t history_count = 0;              // upgrades that ended
  SpareNodes<std::map<Id, Upgrade>::node_type> spare;
  bool operator==(const Status&) const = default;

  const Upgrade* find(const Id& id) const {
    auto it = upgrades.find(id);
    return it == upgrades.end() ? nullptr : &it->second;
  }
};

void Evolve(Status& s, const fb::EventEnvelope& e);

// ---- inline definitions ----------------------------------------------------

inline const char* StepActionName(fb::StepAction a) {
  switch (a) {
    case fb::StepAction::Swap: return "swap";
    case fb::StepAction::Restart: return "restart";
    case fb::StepAction::Shift: return "shift";
    case fb::StepAction::Deploy: return "deploy";
    case fb::StepAction::Verify: return "verify";
    case fb::StepAction::Switch: return "switch";
    case fb::StepAction::Unspecified: break;
  }
  return "";
}

inline fb::StepAction StepActionFromName(std::string_view name) {
  for (fb::StepAction a : fb::EnumValuesStepAction()) {
    if (a != fb::StepAction::Unspecified && name == StepActionName(a)) return a;
  }
  return fb::StepAction::Unspecified;
}

inline fb::StepAction ResolveStepAction(fb::StepAction kind, const flatbuffers::String* name) {
  if (*StepActionName(kind) != '\0') return kind;
  return name == nullptr ? fb::StepAction::Unspecified : StepActionFromName(name->string_view());
}

inline StrategySpec FromStrategy(const fb::Strategy* st) {
  StrategySpec s;
  if (st == nullptr) return s;
  s.kind = st->kind();
  s.steps = st->steps();
  if (st->weights() != nullptr) s.weights.assign(st->weights()->begin(), st->weights()->end());
  s.pause_ms = st->pause_ms();
  s.max_unavailable = st->max_unavailable();
  return s;
}

inline flatbuffers::Offset<fb::Strategy> ToStrategy(flatbuffers::FlatBufferBuilder& fbb, const StrategySpec& s) {
  const auto weights = s.weights.empty() ? 0 : fbb.CreateVector(s.weights);
  return fb::CreateStrategy(fbb, s.kind, s.steps, weights, s.pause_ms, s.max_unavailable);
}

// Snapshots store an action by its wire name, as format 1 stored the string
// (the codec's field lists find this through PlanStep).
namespace snapshot {
template <typename E>
struct EnumNames;
template <>
struct EnumNames<fb::StepAction> {
  static const char* Name(fb::StepAction v) { return StepActionName(v); }
  static constexpr fb::StepAction kLast = fb::StepAction::MAX;
};
}  // namespace snapshot

}  // namespace noodle::proj

namespace noodle::fb {
// nlohmann::json writes a StepAction as its wire name, not its number (found
// by argument-dependent lookup; a template so this header needs no JSON).
template <typename Json>
void to_json(Json& j, StepAction a) {
  j = proj::StepActionName(a);
}
}  // namespace noodle::fb
