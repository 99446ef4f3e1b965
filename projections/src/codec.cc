#include "noodle/projections/codec.h"

#include <nlohmann/json.hpp>

#include "noodle/envelope.h"

namespace noodle::proj {

using nlohmann::json;

void to_json(json& j, const Id& id) { j = id.hex(); }
void from_json(const json& j, Id& id) {
  auto parsed = IdFromHex(j.get<std::string>());
  if (!parsed) throw std::invalid_argument("bad id");
  id = Id::From(&*parsed);
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Hook, argv, shell, timeout_ms)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Dependency, name, range)
// WITH_DEFAULT: snapshots written before a field existed still decode.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Component, name, version, type, hot_swappable, critical, dependencies,
                                                artifact_location, artifact_sha256, metadata, executor, hooks, instances,
                                                artifact_require_signature)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RegistryEntry, spec, registered_seq, updated_seq)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Registry, seq, components, dependents)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PlanStep, action, instance, weight, pause)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(StrategySpec, kind, steps, weights, pause_ms, max_unavailable)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Upgrade, id, parent, component, expected_version, from_version, to_version,
                                   requested_target, has_requested_target, target, strategy, priority, timeout_ms, rollback_enabled, level,
                                   allow_breaking, requested_by, phase, cause, reason, requested_seq, requested_ns,
                                   started_ns, finished_ns, pause_until_ns, plan, parallel, steps, weight,
                                   unhealthy, reverts, revert_running, revert_failures)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(UpgradeSummary, id, component, from_version, to_version, reason, phase,
                                   requested_ns, finished_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(RollbackOp, id, point, to_seq, reason, restore, remove, started_ns, failed)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Status, seq, last_time_ns, upgrades, busy, queued, points, rollbacks, recent,
                                   history_count, agents)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Tally, outcomes, durations_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Statistics::Open, component, requested_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Statistics, seq, overall, per_component, open)

namespace {

template <typename T>
std::string EncodeAny(const T& value) {
  json j = value;
  j["projection"] = T::kName;
  std::vector<uint8_t> bytes = json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

template <typename T>
noodle::Status DecodeAny(std::string_view blob, T* out) {
  try {
    json j = json::from_msgpack(blob.begin(), blob.end());
    if (!j.is_object() || j.value("projection", "") != T::kName) {
      return noodle::Status::Corruption(std::string("not a ") + T::kName + " snapshot");
    }
    *out = j.get<T>();
    return noodle::Status::OK();
  } catch (const std::exception& e) {
    return noodle::Status::Corruption(std::string(T::kName) + " snapshot does not decode: " + e.what());
  }
}

json Durations(const Tally& t) {
  const DurationSummary d = Summarize(t);
  return {{"count", d.count}, {"min_ms", d.min_ns / 1e6}, {"median_ms", d.median_ns / 1e6},
          {"p95_ms", d.p95_ns / 1e6}, {"max_ms", d.max_ns / 1e6}};
}

const char* StepStateName(StepState s) {
  switch (s) {
    case StepState::kPending: return "pending";
    case StepState::kRunning: return "running";
    case StepState::kSucceeded: return "succeeded";
    case StepState::kFailed: return "failed";
  }
  return "unknown";
}

}  // namespace

std::string Encode(const Registry& r) { return EncodeAny(r); }
std::string Encode(const Status& s) { return EncodeAny(s); }
std::string Encode(const Statistics& s) { return EncodeAny(s); }
noodle::Status Decode(std::string_view blob, Registry* r) { return DecodeAny(blob, r); }
noodle::Status Decode(std::string_view blob, Status* s) { return DecodeAny(blob, s); }
noodle::Status Decode(std::string_view blob, Statistics* s) { return DecodeAny(blob, s); }

json ToJson(const Component& c) {
  json j = c;
  j["type"] = fb::EnumNameComponentType(c.type);
  j["executor"] = fb::EnumNameExecutorKind(c.executor);
  return j;
}

json ToJson(const Registry& r) {
  json components = json::array();
  for (const auto& [name, entry] : r.components) {
    json c = ToJson(entry.spec);
    c["registered_seq"] = entry.registered_seq;
    c["updated_seq"] = entry.updated_seq;
    components.push_back(std::move(c));
  }
  return {{"seq", r.seq}, {"components", std::move(components)}};
}

json ToJson(const Upgrade& u) {
  json steps = json::array();
  for (size_t i = 0; i < u.plan.size(); ++i) {
    steps.push_back({{"step", i}, {"action", u.plan[i].action}, {"instance", u.plan[i].instance},
                     {"weight", u.plan[i].weight}, {"state", StepStateName(u.steps[i])}});
  }
  return {{"id", u.id.hex()}, {"component", u.component}, {"from", u.from_version}, {"to", u.to_version},
          {"phase", PhaseName(u.phase)}, {"strategy", fb::EnumNameStrategyKind(u.strategy.kind)},
          {"priority", u.priority}, {"weight", u.weight}, {"steps", std::move(steps)},
          {"reverts_left", u.reverts.size()}, {"reason", u.reason}, {"requested_seq", u.requested_seq},
          {"parent", u.parent.zero() ? json() : json(u.parent.hex())}};
}

json ToJson(const UpgradeSummary& r) {
  return {{"id", r.id.hex()}, {"component", r.component}, {"from", r.from_version}, {"to", r.to_version},
          {"phase", PhaseName(r.phase)}, {"reason", r.reason}, {"duration_ms", (r.finished_ns - r.requested_ns) / 1e6}};
}

json ToJson(const Status& s) {
  json active = json::array();
  for (const auto& [id, u] : s.upgrades) active.push_back(ToJson(u));
  json recent = json::array();
  for (const auto& r : s.recent) recent.push_back(ToJson(r));
  json rollbacks = json::array();
  for (const auto& [id, op] : s.rollbacks) {
    rollbacks.push_back({{"id", id.hex()}, {"point", op.point}, {"to_seq", op.to_seq}, {"failed", op.failed}});
  }
  return {{"seq", s.seq}, {"active", std::move(active)}, {"recent", std::move(recent)},
          {"history_count", s.history_count}, {"points", s.points}, {"rollbacks", std::move(rollbacks)},
          {"agents", s.agents}};
}

json ToJson(const Statistics& s) {
  json per = json::object();
  for (const auto& [name, t] : s.per_component) per[name] = {{"outcomes", t.outcomes}, {"durations", Durations(t)}};
  return {{"seq", s.seq}, {"outcomes", s.overall.outcomes}, {"durations", Durations(s.overall)},
          {"in_flight", s.open.size()}, {"per_component", std::move(per)}};
}

}  // namespace noodle::proj
