#include "noodle/projections/codec.h"

#include <nlohmann/json.hpp>

#include "snapshot_json.h"
#include "snapshot_pack.h"

namespace noodle::proj {

using nlohmann::json;


// ---- what a snapshot holds: one field list per type, read and written ----
// Renaming a key here changes the format: add the new key, keep reading the
// old one, and bump kSnapshotFormat only if old readers would misread it.

template <typename IO, snapshot::Is<Hook> T>
void Fields(IO& io, T& h) {
  io("argv", h.argv);
  io("shell", h.shell);
  io("timeout_ms", h.timeout_ms);
}
template <typename IO, snapshot::Is<Dependency> T>
void Fields(IO& io, T& d) {
  io("name", d.name);
  io("range", d.range);
}
template <typename IO, snapshot::Is<Component> T>
void Fields(IO& io, T& c) {
  io("name", c.name);
  io("version", c.version);
  io("type", c.type);
  io("hot_swappable", c.hot_swappable);
  io("critical", c.critical);
  io("dependencies", c.dependencies);
  io("artifact_location", c.artifact_location);
  io("artifact_sha256", c.artifact_sha256);
  io("artifact_require_signature", c.artifact_require_signature);
  io("metadata", c.metadata);
  io("executor", c.executor);
  io("hooks", c.hooks);
  io("instances", c.instances);
}
template <typename IO, snapshot::Is<RegistryEntry> T>
void Fields(IO& io, T& e) {
  io("spec", e.spec);
  io("registered_seq", e.registered_seq);
  io("updated_seq", e.updated_seq);
}
template <typename IO, snapshot::Is<Registry> T>
void Fields(IO& io, T& r) {
  io("seq", r.seq);
  io("components", r.components);
  io("dependents", r.dependents);
}
template <typename IO, snapshot::Is<PlanStep> T>
void Fields(IO& io, T& p) {
  io("action", p.action);
  io("instance", p.instance);
  io("weight", p.weight);
  io("pause", p.pause);
}
template <typename IO, snapshot::Is<StrategySpec> T>
void Fields(IO& io, T& s) {
  io("kind", s.kind);
  io("steps", s.steps);
  io("weights", s.weights);
  io("pause_ms", s.pause_ms);
  io("max_unavailable", s.max_unavailable);
}
template <typename IO, snapshot::Is<Upgrade> T>
void Fields(IO& io, T& u) {
  io("id", u.id);
  io("parent", u.parent);
  io("component", u.component);
  io("expected_version", u.expected_version);
  io("from_version", u.from_version);
  io("to_version", u.to_version);
  io("requested_target", u.requested_target);
  io("has_requested_target", u.has_requested_target);
  io("target", u.target);
  io("strategy", u.strategy);
  io("priority", u.priority);
  io("timeout_ms", u.timeout_ms);
  io("rollback_enabled", u.rollback_enabled);
  io("level", u.level);
  io("allow_breaking", u.allow_breaking);
  io("requested_by", u.requested_by);
  io("phase", u.phase);
  io("cause", u.cause);
  io("reason", u.reason);
  io("requested_seq", u.requested_seq);
  io("requested_ns", u.requested_ns);
  io("started_ns", u.started_ns);
  io("finished_ns", u.finished_ns);
  io("pause_until_ns", u.pause_until_ns);
  io("paused_ns", u.paused_ns);  // absent before operator pauses stopped the clock: 0
  io("paused_since_ns", u.paused_since_ns);
  io("plan", u.plan);
  io("parallel", u.parallel);
  io("steps", u.steps);
  io("weight", u.weight);
  io("unhealthy", u.unhealthy);
  io("reverts", u.reverts);
  io("revert_running", u.revert_running);
  io("revert_failures", u.revert_failures);
}
template <typename IO, snapshot::Is<UpgradeSummary> T>
void Fields(IO& io, T& r) {
  io("id", r.id);
  io("component", r.component);
  io("from_version", r.from_version);
  io("to_version", r.to_version);
  io("reason", r.reason);
  io("phase", r.phase);
  io("requested_ns", r.requested_ns);
  io("finished_ns", r.finished_ns);
}
template <typename IO, snapshot::Is<RollbackOp> T>
void Fields(IO& io, T& op) {
  io("id", op.id);
  io("point", op.point);
  io("to_seq", op.to_seq);
  io("reason", op.reason);
  io("restore", op.restore);
  io("remove", op.remove);
  io("started_ns", op.started_ns);
  io("failed", op.failed);
}
template <typename IO, snapshot::Is<Status> T>
void Fields(IO& io, T& s) {
  io("seq", s.seq);
  io("last_time_ns", s.last_time_ns);
  io("upgrades", s.upgrades);
  io("busy", s.busy);
  io("queued", s.queued);
  io("points", s.points);
  io("rollbacks", s.rollbacks);
  io("recent", s.recent);
  io("agents", s.agents);
  io("history_count", s.history_count);
}
template <typename IO, snapshot::Is<DurationHistogram> T>
void Fields(IO& io, T& h) {
  io("count", h.count);
  io("min_ns", h.min_ns);
  io("max_ns", h.max_ns);
  // Stored as a map, bucket -> count: what a reader checks for order and repeats.
  std::map<uint32_t, uint64_t> buckets(h.buckets.begin(), h.buckets.end());
  io("buckets", buckets);
  if constexpr (std::same_as<IO, snapshot::Reader>) h.buckets.assign(buckets.begin(), buckets.end());
}
template <typename IO, snapshot::Is<Tally> T>
void Fields(IO& io, T& t) {
  io("outcomes", t.outcomes);
  io("durations", t.durations);
  if constexpr (std::same_as<IO, snapshot::Reader>) {
    // Formats 1 and 2 kept every duration: each becomes a histogram entry.
    std::vector<int64_t> old;
    io("durations_ns", old);
    for (const int64_t d : old) t.durations.Add(d);
  }
}
template <typename IO, snapshot::Is<Statistics::Open> T>
void Fields(IO& io, T& o) {
  io("component", o.component);
  io("requested_ns", o.requested_ns);
}
template <typename IO, snapshot::Is<Statistics> T>
void Fields(IO& io, T& s) {
  io("seq", s.seq);
  io("overall", s.overall);
  io("per_component", s.per_component);
  io("open", s.open);
}

}  // namespace noodle::proj

namespace noodle::proj::snapshot {

template <>
struct EnumNames<fb::ComponentType> {
  static const char* Name(fb::ComponentType v) { return fb::EnumNameComponentType(v); }
  static constexpr fb::ComponentType kLast = fb::ComponentType::MAX;
};
template <>
struct EnumNames<fb::ExecutorKind> {
  static const char* Name(fb::ExecutorKind v) { return fb::EnumNameExecutorKind(v); }
  static constexpr fb::ExecutorKind kLast = fb::ExecutorKind::MAX;
};
template <>
struct EnumNames<fb::StrategyKind> {
  static const char* Name(fb::StrategyKind v) { return fb::EnumNameStrategyKind(v); }
  static constexpr fb::StrategyKind kLast = fb::StrategyKind::MAX;
};
template <>
struct EnumNames<fb::ValidationLevel> {
  static const char* Name(fb::ValidationLevel v) { return fb::EnumNameValidationLevel(v); }
  static constexpr fb::ValidationLevel kLast = fb::ValidationLevel::MAX;
};
template <>
struct EnumNames<Phase> {
  static const char* Name(Phase v) { return PhaseName(v); }
  static constexpr Phase kLast = Phase::kRollbackFailed;
};
template <>
struct EnumNames<StepState> {
  static const char* Name(StepState v) { return StepStateName(v); }
  static constexpr StepState kLast = StepState::kFailed;
};

}  // namespace noodle::proj::snapshot

namespace noodle::proj {

namespace {

// What no field list can say: how the fields of an upgrade fit together.
// The engine indexes steps by plan position, so a mismatch must not load.
void CheckUpgrade(const Upgrade& u, snapshot::Errors& e) {
  const size_t mark = e.Push("upgrades[" + u.id.hex() + "]");
  if (u.steps.size() != u.plan.size()) {
    std::string m = std::to_string(u.steps.size());
    m += " step states for ";
    m += std::to_string(u.plan.size());
    m += " plan steps";
    e.Fail(m);
  }
  for (uint32_t k : u.reverts) {
    if (k >= u.plan.size()) {
      std::string m = "revert of step ";
      m += std::to_string(k);
      m += " beyond the plan";
      e.Fail(m);
    }
  }
  e.Pop(mark);
}
// Percentiles walk the buckets up to a rank of the count: they must agree.
void CheckHistogram(const std::string& where, const DurationHistogram& h, snapshot::Errors& e) {
  const size_t mark = e.Push(where);
  uint64_t sum = 0;
  for (const auto& [bucket, n] : h.buckets) {
    if (bucket >= DurationHistogram::kBuckets || n == 0) {
      e.Fail("bucket " + std::to_string(bucket) + " holding " + std::to_string(n) + " is not a bucket");
    }
    sum += n;
  }
  if (sum != h.count) e.Fail("buckets hold " + std::to_string(sum) + " durations, count says " + std::to_string(h.count));
  if (h.min_ns < 0 || h.min_ns > h.max_ns) e.Fail("min_ns and max_ns do not bound anything");
  e.Pop(mark);
}
void Check(const Registry&, snapshot::Errors&) {}
void Check(const Statistics& s, snapshot::Errors& e) {
  CheckHistogram("overall.durations", s.overall.durations, e);
  for (const auto& [name, t] : s.per_component) CheckHistogram("per_component." + name + ".durations", t.durations, e);
}
void Check(const Status& s, snapshot::Errors& e) {
  for (const auto& [id, u] : s.upgrades) CheckUpgrade(u, e);
}

template <typename T>
std::string EncodeAny(const T& value) {
  std::string bytes;
  snapshot::Packer p(&bytes);
  snapshot::PackRecord(p, value, 2);
  p.String("projection");
  p.String(T::kName);
  p.String("format");
  p.Unsigned(kSnapshotFormat);
  return bytes;
}

template <typename T>
noodle::Status DecodeAny(std::string_view blob, T* out) {
  const std::string what = std::string(T::kName) + " snapshot";
  try {
    json j;
    std::string why;
    if (!snapshot::ParseMsgpack(blob, &j, &why)) return noodle::Status::Corruption(what + " is not MessagePack: " + why);
    const auto projection = j.is_object() ? j.find("projection") : j.end();
    if (!j.is_object() || projection == j.end() || *projection != T::kName) {
      return noodle::Status::Corruption("not a " + what);
    }
    uint64_t format = 1;  // format 1 had no "format" key
    if (auto f = j.find("format"); f != j.end()) {
      snapshot::Errors e;
      if (!snapshot::Read(*f, format, e) || format == 0) {
        return noodle::Status::Corruption(what + ": format is not a version number: " + f->dump());
      }
    }
    if (format > kSnapshotFormat) {
      std::string m = what + " has format ";
      m += std::to_string(format);
      m += "; this build reads formats 1 to ";
      m += std::to_string(kSnapshotFormat);
      return noodle::Status::NotSupported(m);
    }
    T value;
    snapshot::Errors e;
    if (snapshot::Read(j, value, e)) Check(value, e);
    if (e.failed()) return noodle::Status::Corruption(what + " does not decode: " + e.first());
    *out = std::move(value);
    return noodle::Status::OK();
  } catch (const std::exception& ex) {  // bad_alloc; nothing else throws here
    return noodle::Status::Corruption(what + " does not decode: " + ex.what());
  }
}

}  // namespace

std::string Encode(const Registry& r) { return EncodeAny(r); }
std::string Encode(const Status& s) { return EncodeAny(s); }
std::string Encode(const Statistics& s) { return EncodeAny(s); }
noodle::Status Decode(std::string_view blob, Registry* r) { return DecodeAny(blob, r); }
noodle::Status Decode(std::string_view blob, Status* s) { return DecodeAny(blob, s); }
noodle::Status Decode(std::string_view blob, Statistics* s) { return DecodeAny(blob, s); }

}  // namespace noodle::proj
