#include "lifecycle_log.h"

#include "noodle/envelope.h"
#include "noodle/projections/status.h"

namespace noodle::observe {
namespace {

using spdlog::level::debug;
using spdlog::level::info;

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }
std::string Hex(const fb::Id128* id) { return id == nullptr ? std::string() : IdToHex(*id); }
double Seconds(int64_t ns) { return ns > 0 ? static_cast<double>(ns) / 1e9 : 0.0; }

// The end of a hook's output: its last three lines, at most 300 bytes.
std::string Excerpt(const std::string& tail) {
  const size_t end = tail.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  size_t start = 0, pos = end;
  for (int lines = 0; lines < 3; ++lines) {
    const size_t nl = tail.rfind('\n', pos);
    if (nl == std::string::npos) {
      start = 0;
      break;
    }
    start = nl + 1;
    if (nl == 0) break;
    pos = nl - 1;
  }
  std::string out = tail.substr(start, end + 1 - start);
  if (out.size() > 300) out = "..." + out.substr(out.size() - 297);
  return out;
}

std::string Reasons(const fb::UpgradeRejected& r) {
  std::string out;
  if (r.errors() == nullptr) return out;
  for (const auto* err : *r.errors()) {
    if (!out.empty()) out += "; ";
    out += Str(err->code());
    if (err->field() != nullptr && err->field()->size() > 0) out += " (" + err->field()->str() + ")";
    out += ": " + Str(err->message());
  }
  return out;
}

void Line(spdlog::level::level_enum level, std::string_view msg, LogFields& fields, const fb::EventEnvelope& e) {
  fields.Add("seq", e.seq());
  LogStructured(level, msg, fields);
}

}  // namespace

void LifecycleLog::Seed(const engine::State& state) {
  for (const auto& [name, entry] : state.registry.components) versions_[name] = entry.spec.version;
  for (const auto& [id, u] : state.status.upgrades) {
    Tracked& t = upgrades_[id.hex()];
    t.component = u.component;
    t.from = u.from_version.empty() ? versions_[u.component] : u.from_version;
    t.to = u.to_version;
    t.strategy = SnakeCase(fb::EnumNameStrategyKind(u.strategy.kind));
    t.reason = u.reason;
    t.requested_ns = u.requested_ns;
  }
}

LifecycleLog::Tracked& LifecycleLog::Of(const fb::Id128* id) { return upgrades_[Hex(id)]; }

LogFields LifecycleLog::Head(const fb::Id128* id) {
  const Tracked& t = Of(id);
  LogFields f;
  f.Add("component", t.component).Add("from", t.from).Add("to", t.to).Add("upgrade", Hex(id));
  return f;
}

void LifecycleLog::End(const fb::Id128* id, Outcome o, int64_t now_ns) {
  auto it = upgrades_.find(Hex(id));
  const int64_t requested = it == upgrades_.end() ? 0 : it->second.requested_ns;
  if (metrics_ != nullptr) metrics_->Ended(o, requested > 0 ? Seconds(now_ns - requested) : 0.0);
  if (it != upgrades_.end()) upgrades_.erase(it);
}

void LifecycleLog::Fold(const fb::EventEnvelope& e) {
  using T = fb::Event;
  switch (e.event_type()) {
    case T::ComponentRegistered: {
      const auto* spec = e.event_as_ComponentRegistered()->component();
      versions_[Str(spec->name())] = Str(spec->version());
      return;
    }
    case T::ComponentDeregistered: versions_.erase(Str(e.event_as_ComponentDeregistered()->name())); return;
    case T::UpgradeRequested: return Requested(e, *e.event_as_UpgradeRequested());
    case T::UpgradeRejected: return Rejected(e, *e.event_as_UpgradeRejected());
    case T::UpgradeValidated: return Validated(e, *e.event_as_UpgradeValidated());
    case T::StepStarted: return StepStarted(e, *e.event_as_StepStarted());
    case T::StepSucceeded: {
      const auto* s = e.event_as_StepSucceeded();
      return StepEnded(e, s->upgrade_id(), s->step(), true, s->duration_ns(), nullptr);
    }
    case T::StepFailed: {
      const auto* s = e.event_as_StepFailed();
      return StepEnded(e, s->upgrade_id(), s->step(), false, s->duration_ns(), s);
    }
    case T::UpgradePaused:
    case T::UpgradePromoted: return Canary(e);
    case T::UpgradeCompleted: return Completed(e, *e.event_as_UpgradeCompleted());
    case T::UpgradeFailed: {
      const auto* f = e.event_as_UpgradeFailed();
      return Stopped(e, f->upgrade_id(), "upgrade.failed", Outcome::kFailed, f->rollback(), f->reason(), nullptr);
    }
    case T::UpgradeCancelled: {
      const auto* c = e.event_as_UpgradeCancelled();
      return Stopped(e, c->upgrade_id(), "upgrade.cancelled", Outcome::kCancelled, c->rollback(), c->reason(), c->by());
    }
    case T::UpgradeAborted: {
      const auto* a = e.event_as_UpgradeAborted();
      return Stopped(e, a->upgrade_id(), "upgrade.aborted", Outcome::kAborted, a->rollback(), a->reason(), a->by());
    }
    case T::RollbackStarted: return PointRollback(e);
    case T::RollbackCompleted: return RollbackEnded(e, true);
    case T::RollbackFailed: return RollbackEnded(e, false);
    default: return;
  }
}

void LifecycleLog::Requested(const fb::EventEnvelope& e, const fb::UpgradeRequested& r) {
  Tracked& t = Of(r.upgrade_id());
  t.component = Str(r.component());
  t.to = Str(r.target_version());
  t.from = r.expected_version() != nullptr && r.expected_version()->size() > 0 ? r.expected_version()->str()
                                                                               : versions_[t.component];
  t.strategy = SnakeCase(fb::EnumNameStrategyKind(r.strategy() ? r.strategy()->kind() : fb::StrategyKind::Immediate));
  t.requested_ns = e.time_ns();
  if (metrics_ != nullptr) metrics_->requested.Add();
  if (!ShouldLog(info)) return;
  LogFields f = Head(r.upgrade_id());
  f.Add("strategy", t.strategy).Add("by", Str(e.actor()));
  if (r.parent_id() != nullptr && !IsZero(*r.parent_id())) f.Add("rollback", Hex(r.parent_id()));
  Line(info, "upgrade.requested", f, e);
}

void LifecycleLog::Rejected(const fb::EventEnvelope& e, const fb::UpgradeRejected& r) {
  if (ShouldLog(info)) {
    LogFields f = Head(r.upgrade_id());
    f.Add("errors", r.errors() ? r.errors()->size() : 0u).Add("reasons", Reasons(r));
    Line(info, "upgrade.rejected", f, e);
  }
  End(r.upgrade_id(), Outcome::kRejected, e.time_ns());
}

void LifecycleLog::Validated(const fb::EventEnvelope& e, const fb::UpgradeValidated& v) {
  Tracked& t = Of(v.upgrade_id());
  if (v.from_version() != nullptr && v.from_version()->size() > 0) t.from = v.from_version()->str();
  if (!ShouldLog(info)) return;
  LogFields f = Head(v.upgrade_id());
  f.Add("strategy", t.strategy).Add("steps", v.plan() ? v.plan()->size() : 0u);
  if (v.breaking()) f.Add("breaking", true);
  Line(info, "upgrade.started", f, e);
}

void LifecycleLog::StepStarted(const fb::EventEnvelope& e, const fb::StepStarted& s) {
  Step& step = Of(s.upgrade_id()).steps[s.step()];
  step.action = proj::StepActionName(proj::ResolveStepAction(s.action_kind(), s.action()));
  step.instance = Str(s.instance());
  step.revert = s.revert();
  step.plan_step = s.revert() ? s.reverts() : s.step();
  if (!ShouldLog(debug)) return;
  LogFields f = Head(s.upgrade_id());
  f.Add("step", step.plan_step + 1).Add("action", step.action).Add("revert", step.revert);
  if (!step.instance.empty()) f.Add("instance", step.instance);
  Line(debug, "upgrade.step_started", f, e);
}

void LifecycleLog::StepEnded(const fb::EventEnvelope& e, const fb::Id128* id, uint32_t number, bool ok,
                             int64_t duration_ns, const fb::StepFailed* failed) {
  if (metrics_ != nullptr) {
    (ok ? metrics_->step_succeeded_seconds : metrics_->step_failed_seconds).Observe(Seconds(duration_ns));
  }
  Tracked& t = Of(id);
  // A step started before this process (a restart) is known by its number only.
  const auto it = t.steps.find(number);
  const Step step = it != t.steps.end() ? it->second : Step{"", "", false, number};
  if (it != t.steps.end()) t.steps.erase(it);
  if (!ShouldLog(ok ? debug : info)) return;
  LogFields f = Head(id);
  f.Add("step", step.plan_step + 1).Add("action", step.action).Add("revert", step.revert);
  if (!step.instance.empty()) f.Add("instance", step.instance);
  if (failed != nullptr) {
    f.Add("outcome", SnakeCase(fb::EnumNameStepOutcome(failed->outcome())))
        .Add("exit_code", failed->exit_code())
        .Add("cause", Str(failed->reason()))
        .Add("output", Excerpt(Str(failed->output_tail())));
  }
  f.Seconds("duration", Seconds(duration_ns));
  Line(ok ? debug : info, ok ? "upgrade.step_succeeded" : "upgrade.step_failed", f, e);
}

void LifecycleLog::Canary(const fb::EventEnvelope& e) {
  if (!ShouldLog(info)) return;
  if (const auto* p = e.event_as_UpgradePaused()) {
    LogFields f = Head(p->upgrade_id());
    f.Add("weight", uint32_t{p->weight()});
    if (p->until_ns() > 0) f.Seconds("resumes_in", Seconds(p->until_ns() - e.time_ns()));
    else f.Add("until", "promoted");
    return Line(info, "upgrade.paused", f, e);
  }
  const auto* p = e.event_as_UpgradePromoted();
  LogFields f = Head(p->upgrade_id());
  f.Add("by", Str(p->by()));
  Line(info, "upgrade.promoted", f, e);
}

void LifecycleLog::Completed(const fb::EventEnvelope& e, const fb::UpgradeCompleted& c) {
  const std::string component = Str(c.component());
  versions_[component] = Str(c.to_version());
  if (ShouldLog(info)) {
    LogFields f;
    f.Add("component", component).Add("from", Str(c.from_version())).Add("to", Str(c.to_version()));
    f.Add("upgrade", Hex(c.upgrade_id())).Seconds("duration", Seconds(c.duration_ns()));
    Line(info, "upgrade.completed", f, e);
  }
  upgrades_.erase(Hex(c.upgrade_id()));
  if (metrics_ != nullptr) metrics_->Ended(Outcome::kCompleted, Seconds(c.duration_ns()));
}

void LifecycleLog::Stopped(const fb::EventEnvelope& e, const fb::Id128* id, const char* msg, Outcome o,
                           bool rollback, const flatbuffers::String* reason, const flatbuffers::String* by) {
  Tracked& t = Of(id);
  t.reason = Str(reason);
  if (ShouldLog(info)) {
    LogFields f = Head(id);
    f.Add("reason", t.reason);
    if (by != nullptr) f.Add("by", by->str());
    f.Add("rollback", rollback);
    if (!rollback && t.requested_ns > 0) f.Seconds("duration", Seconds(e.time_ns() - t.requested_ns));
    Line(info, msg, f, e);
  }
  if (!rollback) End(id, o, e.time_ns());
}

// A rollback's end: of one upgrade (its stream), or of a rollback to a point.
void LifecycleLog::RollbackEnded(const fb::EventEnvelope& e, bool ok) {
  const fb::Id128* id = ok ? e.event_as_RollbackCompleted()->upgrade_id() : e.event_as_RollbackFailed()->upgrade_id();
  const std::string why = ok ? std::string() : Str(e.event_as_RollbackFailed()->reason());
  if (e.stream()->string_view().starts_with("rollback/")) {
    const auto started = point_rollbacks_.find(Hex(id));
    if (ShouldLog(info)) {
      LogFields f;
      f.Add("rollback", Hex(id));
      if (!ok) f.Add("reason", why);
      if (started != point_rollbacks_.end()) f.Seconds("duration", Seconds(e.time_ns() - started->second));
      Line(info, ok ? "rollback.completed" : "rollback.failed", f, e);
    }
    if (started != point_rollbacks_.end()) point_rollbacks_.erase(started);
    return;
  }
  Tracked& t = Of(id);
  if (ShouldLog(info)) {
    LogFields f = Head(id);
    if (ok) f.Add("restored", Str(e.event_as_RollbackCompleted()->restored_version())).Add("reason", t.reason);
    else f.Add("reason", why).Add("cause", t.reason);
    if (t.requested_ns > 0) f.Seconds("duration", Seconds(e.time_ns() - t.requested_ns));
    Line(info, ok ? "upgrade.rolled_back" : "upgrade.rollback_failed", f, e);
  }
  End(id, ok ? Outcome::kRolledBack : Outcome::kRollbackFailed, e.time_ns());
}

// RollbackStarted: an upgrade's (its failure's line said so) or a rollback
// to a point, seq or time, which has a line of its own.
void LifecycleLog::PointRollback(const fb::EventEnvelope& e) {
  if (!e.stream()->string_view().starts_with("rollback/")) return;
  const auto* r = e.event_as_RollbackStarted();
  point_rollbacks_[Hex(r->upgrade_id())] = e.time_ns();
  if (!ShouldLog(info)) return;
  LogFields f;
  f.Add("rollback", Hex(r->upgrade_id()));
  if (r->point() != nullptr && r->point()->size() > 0) f.Add("point", r->point()->str());
  f.Add("to_seq", r->to_seq()).Add("restore", r->restore() ? r->restore()->size() : 0u);
  f.Add("remove", r->remove() ? r->remove()->size() : 0u).Add("reason", Str(r->reason())).Add("by", Str(e.actor()));
  Line(info, "rollback.started", f, e);
}

}  // namespace noodle::observe
