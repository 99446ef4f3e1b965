// The projections' values as the tables of queries.fbs.
#include <utility>

#include "noodle/protocol/query_result.h"

namespace noodle::engine::query {
namespace {

// Absent rather than empty: an absent string costs nothing on the wire.
Offset<flatbuffers::String> Text(FlatBufferBuilder& fbb, const std::string& s) {
  return s.empty() ? 0 : fbb.CreateString(s);
}

}  // namespace

fb::Phase PhaseOf(proj::Phase p) {
  switch (p) {
    case proj::Phase::kQueued: return fb::Phase::Queued;
    case proj::Phase::kRunning: return fb::Phase::Running;
    case proj::Phase::kPaused: return fb::Phase::Paused;
    case proj::Phase::kRollingBack: return fb::Phase::RollingBack;
    case proj::Phase::kCompleted: return fb::Phase::Completed;
    case proj::Phase::kRejected: return fb::Phase::Rejected;
    case proj::Phase::kFailed: return fb::Phase::Failed;
    case proj::Phase::kCancelled: return fb::Phase::Cancelled;
    case proj::Phase::kAborted: return fb::Phase::Aborted;
    case proj::Phase::kRolledBack: return fb::Phase::RolledBack;
    case proj::Phase::kRollbackFailed: return fb::Phase::RollbackFailed;
  }
  return fb::Phase::Failed;  // not reached: every phase is named above
}

fb::StepState StepStateOf(proj::StepState s) {
  switch (s) {
    case proj::StepState::kPending: return fb::StepState::Pending;
    case proj::StepState::kRunning: return fb::StepState::Running;
    case proj::StepState::kSucceeded: return fb::StepState::Succeeded;
    case proj::StepState::kFailed: return fb::StepState::Failed;
  }
  return fb::StepState::Pending;
}

std::optional<fb::Outcome> OutcomeOf(std::string_view name) {
  static constexpr std::pair<std::string_view, fb::Outcome> kNames[] = {
      {"completed", fb::Outcome::Completed}, {"rejected", fb::Outcome::Rejected},
      {"failed", fb::Outcome::Failed},       {"cancelled", fb::Outcome::Cancelled},
      {"aborted", fb::Outcome::Aborted},     {"rolled_back", fb::Outcome::RolledBack},
      {"rollback_failed", fb::Outcome::RollbackFailed}};
  for (const auto& [n, o] : kNames) {
    if (n == name) return o;
  }
  return std::nullopt;
}

namespace {

// What an upgrade in flight and the summary of an ended one both say: its
// strings are built before the table, then added to it.
struct UpgradeHead {
  template <typename U>
  UpgradeHead(FlatBufferBuilder& fbb, const U& u)
      : id(u.id.fb()), component(fbb.CreateString(u.component)), from(Text(fbb, u.from_version)),
        to(Text(fbb, u.to_version)), reason(Text(fbb, u.reason)), phase(PhaseOf(u.phase)) {}
  void Add(fb::UpgradeInfoBuilder& b) const {
    b.add_id(&id);
    b.add_component(component);
    b.add_from_version(from);
    b.add_to_version(to);
    b.add_phase(phase);
    b.add_reason(reason);
  }
  fb::Id128 id;
  Offset<flatbuffers::String> component, from, to, reason;
  fb::Phase phase;
};

}  // namespace

Offset<fb::UpgradeInfo> BuildUpgrade(FlatBufferBuilder& fbb, const proj::Upgrade& u) {
  std::vector<Offset<fb::UpgradeStep>> steps;
  steps.reserve(u.plan.size());
  for (size_t i = 0; i < u.plan.size(); ++i) {
    const proj::PlanStep& p = u.plan[i];
    const fb::StepState state = i < u.steps.size() ? StepStateOf(u.steps[i]) : fb::StepState::Pending;
    steps.push_back(fb::CreateUpgradeStep(fbb, fbb.CreateString(proj::StepActionName(p.action)), Text(fbb, p.instance), p.weight, p.pause, state));
  }
  const fb::Id128 parent = u.parent.fb();
  // Strings and vectors first: a table is built in one piece.
  const UpgradeHead head(fbb, u);
  const auto step_vector = fbb.CreateVector(steps);
  fb::UpgradeInfoBuilder b(fbb);
  head.Add(b);
  b.add_strategy(u.strategy.kind);
  b.add_priority(u.priority);
  b.add_weight(u.weight);
  b.add_steps(step_vector);
  b.add_reverts_left(static_cast<uint32_t>(u.reverts.size()));
  b.add_requested_seq(u.requested_seq);
  if (!u.parent.zero()) b.add_parent(&parent);
  b.add_requested_ns(u.requested_ns);
  b.add_started_ns(u.started_ns);
  b.add_finished_ns(u.finished_ns);
  b.add_pause_until_ns(u.pause_until_ns);
  b.add_unhealthy(u.unhealthy);
  b.add_paused_ns(u.paused_ns);
  b.add_paused_since_ns(u.paused_since_ns);
  return b.Finish();
}

Offset<fb::UpgradeInfo> BuildUpgrade(FlatBufferBuilder& fbb, const proj::UpgradeSummary& u) {
  const UpgradeHead head(fbb, u);
  fb::UpgradeInfoBuilder b(fbb);
  head.Add(b);
  b.add_requested_ns(u.requested_ns);
  b.add_finished_ns(u.finished_ns);
  return b.Finish();
}

Offset<fb::RollbackInfo> BuildRollback(FlatBufferBuilder& fbb, const proj::Id& id, const proj::RollbackOp& op) {
  const fb::Id128 fid = id.fb();
  return fb::CreateRollbackInfo(fbb, &fid, Text(fbb, op.point), op.to_seq, Text(fbb, op.failed));
}

Offset<fb::PointInfo> BuildPoint(FlatBufferBuilder& fbb, const std::string& name, uint64_t seq) {
  return fb::CreatePointInfo(fbb, fbb.CreateString(name), seq);
}

Offset<fb::AgentInfo> BuildAgent(FlatBufferBuilder& fbb, const std::string& name,
                                 const std::vector<std::string>& instances) {
  const auto n = fbb.CreateString(name);
  return fb::CreateAgentInfo(fbb, n, fbb.CreateVectorOfStrings(instances));
}

Offset<fb::ComponentInfo> BuildComponent(FlatBufferBuilder& fbb, const proj::RegistryEntry& entry) {
  return fb::CreateComponentInfo(fbb, proj::ToSpec(fbb, entry.spec), entry.registered_seq, entry.updated_seq);
}

Offset<flatbuffers::Vector<Offset<fb::OutcomeCount>>> BuildOutcomes(FlatBufferBuilder& fbb, const proj::Tally& t) {
  std::vector<Offset<fb::OutcomeCount>> counts;
  for (const auto& [name, n] : t.outcomes) {
    // The projection only counts the names OutcomeOf knows.
    if (auto o = OutcomeOf(name)) counts.push_back(fb::CreateOutcomeCount(fbb, *o, n));
  }
  return fbb.CreateVector(counts);
}

Offset<fb::Durations> BuildDurations(FlatBufferBuilder& fbb, const proj::Tally& t) {
  const proj::DurationSummary d = proj::Summarize(t);
  return fb::CreateDurations(fbb, d.count, d.min_ns, d.median_ns, d.p95_ns, d.max_ns);
}

Offset<fb::ComponentStatistics> BuildComponentStatistics(FlatBufferBuilder& fbb, const std::string& name,
                                                         const proj::Tally& t) {
  const auto n = fbb.CreateString(name);
  const auto outcomes = BuildOutcomes(fbb, t);
  return fb::CreateComponentStatistics(fbb, n, outcomes, BuildDurations(fbb, t));
}

}  // namespace noodle::engine::query
