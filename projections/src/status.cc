#include "noodle/projections/status.h"

#include <algorithm>
#include <array>

namespace noodle::proj {
namespace {

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }
void AssignStr(std::string* out, const flatbuffers::String* s) {
  if (s == nullptr) out->clear();
  else out->assign(s->data(), s->size());
}

Upgrade* Find(Status& s, const fb::Id128* id) {
  auto it = s.upgrades.find(Id::From(id));
  return it == s.upgrades.end() ? nullptr : &it->second;
}

// Keeps the per-component count of queued upgrades as u leaves the queue.
void Dequeue(Status& s, const Upgrade& u) {
  if (u.phase != Phase::kQueued) return;
  auto it = s.queued.find(u.component);
  if (it != s.queued.end() && --it->second == 0) s.queued.erase(it);
}

void End(Status& s, Upgrade& u, Phase phase, int64_t now) {
  Dequeue(s, u);
  u.phase = phase;
  u.finished_ns = now;
  if (auto it = s.busy.find(u.component); it != s.busy.end() && it->second == u.id) s.busy.erase(it);
  if (!u.parent.zero() && phase != Phase::kCompleted) {
    if (auto op = s.rollbacks.find(u.parent); op != s.rollbacks.end() && op->second.failed.empty()) {
      op->second.failed = "upgrade of " + u.component + " to " + u.to_version + " ended " + PhaseName(phase) +
                          (u.reason.empty() ? "" : ": " + u.reason);
    }
  }
  // u is erased below: its strings move into the summary.
  s.recent.push_back({u.id, std::move(u.component), std::move(u.from_version), std::move(u.to_version),
                      std::move(u.reason), phase, u.requested_ns, now});
  if (s.recent.size() > Status::kRecentKept) s.recent.pop_front();
  ++s.history_count;
  const Id id = u.id;
  auto node = s.upgrades.extract(id);  // u dangles from here on
  if (s.spare.nodes.size() < s.spare.kKept) s.spare.nodes.push_back(std::move(node));
}

// An operator's pause ends (resumed, replaced by a canary's pause, or the
// upgrade stopped): its time stops counting against the timeout.
void EndOperatorPause(Upgrade& u, int64_t now) {
  if (u.paused_since_ns == 0) return;
  u.paused_ns = AddNs(u.paused_ns, ElapsedNs(u.paused_since_ns, now));
  u.paused_since_ns = 0;
}

// Failed, cancelled or aborted: the end, or the start of its rollback.
void Stop(Status& s, Upgrade& u, Phase cause, const flatbuffers::String* reason, bool rollback, int64_t now) {
  if (reason != nullptr && u.reason.empty()) u.reason = reason->str();
  if (rollback) {
    EndOperatorPause(u, now);
    Dequeue(s, u);
    u.phase = Phase::kRollingBack;
    u.cause = cause;
  } else {
    End(s, u, cause, now);
  }
}

// One handler per event kind; events no handler names only move seq.
using Handler = void (*)(Status&, const fb::EventEnvelope&);

void OnRequested(Status& s, const fb::EventEnvelope& e) {
  const auto* r = e.event_as_UpgradeRequested();
  const Id id = Id::From(r->upgrade_id());
  // Built in place (an Upgrade is large), in an ended upgrade's node if one is spare.
  auto it = s.upgrades.find(id);
  if (it != s.upgrades.end()) {
    it->second = Upgrade{};
  } else if (!s.spare.nodes.empty()) {
    auto node = std::move(s.spare.nodes.back());
    s.spare.nodes.pop_back();
    node.key() = id;
    node.mapped() = Upgrade{};
    it = s.upgrades.insert(std::move(node)).position;
  } else {
    it = s.upgrades.try_emplace(id).first;
  }
  Upgrade& u = it->second;
  u.id = id;
  u.parent = Id::From(r->parent_id());
  AssignStr(&u.component, r->component());
  AssignStr(&u.expected_version, r->expected_version());
  AssignStr(&u.to_version, r->target_version());
  u.strategy = FromStrategy(r->strategy());
  if (r->target() != nullptr) {
    AssignSpec(*r->target(), &u.requested_target);
    u.has_requested_target = true;
  }
  u.priority = r->priority();
  u.timeout_ms = r->timeout_ms();
  u.rollback_enabled = r->rollback_enabled();
  u.level = r->validation_level();
  u.allow_breaking = r->allow_breaking();
  AssignStr(&u.requested_by, r->requested_by());
  u.requested_seq = e.seq();
  u.requested_ns = e.time_ns();
  ++s.queued[u.component];
}

void OnValidated(Status& s, const fb::EventEnvelope& e) {
  const auto* v = e.event_as_UpgradeValidated();
  Upgrade* u = Find(s, v->upgrade_id());
  if (u == nullptr) return;
  Dequeue(s, *u);
  u->phase = Phase::kRunning;
  u->started_ns = e.time_ns();
  AssignStr(&u->from_version, v->from_version());
  if (v->target() != nullptr) AssignSpec(*v->target(), &u->target);
  u->parallel = v->parallel();
  u->plan.clear();
  if (v->plan() != nullptr) {
    u->plan.reserve(v->plan()->size());
    for (const auto* p : *v->plan()) {
      u->plan.push_back({ResolveStepAction(p->action_kind(), p->action()), Str(p->instance()), p->weight(), p->pause()});
    }
  }
  u->steps.assign(u->plan.size(), StepState::kPending);
  s.busy[u->component] = u->id;
}

void OnRejected(Status& s, const fb::EventEnvelope& e) {
  const auto* r = e.event_as_UpgradeRejected();
  Upgrade* u = Find(s, r->upgrade_id());
  if (u == nullptr) return;
  if (r->errors() != nullptr && r->errors()->size() > 0) u->reason = r->errors()->Get(0)->message()->str();
  AssignStr(&u->from_version, r->from_version());
  End(s, *u, Phase::kRejected, e.time_ns());
}

void OnPointCreated(Status& s, const fb::EventEnvelope& e) {
  const auto* p = e.event_as_RollbackPointCreated();
  // An upgrade's own point is found through the upgrade; only named points
  // are kept here (one per upgrade would grow without bound).
  if (p->upgrade_id() == nullptr || Id::From(p->upgrade_id()).zero()) s.points[p->name()->str()] = p->at_seq();
}

void OnStepStarted(Status& s, const fb::EventEnvelope& e) {
  const auto* st = e.event_as_StepStarted();
  Upgrade* u = Find(s, st->upgrade_id());
  if (u == nullptr) return;
  if (st->revert()) {
    u->revert_running = true;
  } else if (st->step() < u->steps.size()) {
    u->steps[st->step()] = StepState::kRunning;
  }
}

// A revert leaves the to-do list whatever its outcome; a failed one is
// remembered and the rollback goes on with the others.
void RevertEnded(Upgrade& u, uint32_t step, const fb::StepFailed* failed) {
  const uint32_t k = step - static_cast<uint32_t>(u.plan.size());
  std::erase(u.reverts, k);
  u.revert_running = false;
  if (failed == nullptr) return;
  u.revert_failures.push_back("revert of step " + std::to_string(k + 1) +
                              (k < u.plan.size() && !u.plan[k].instance.empty() ? " on " + u.plan[k].instance : "") +
                              ": " + Str(failed->reason()));
}

void StepEnded(Status& s, const fb::Id128* id, uint32_t step, const fb::StepFailed* failed) {
  Upgrade* u = Find(s, id);
  if (u == nullptr) return;
  if (step < u->steps.size()) {
    u->steps[step] = failed == nullptr ? StepState::kSucceeded : StepState::kFailed;
  } else {
    RevertEnded(*u, step, failed);
  }
}

void OnStepSucceeded(Status& s, const fb::EventEnvelope& e) {
  const auto* ok = e.event_as_StepSucceeded();
  StepEnded(s, ok->upgrade_id(), ok->step(), nullptr);
}

void OnStepFailed(Status& s, const fb::EventEnvelope& e) {
  const auto* f = e.event_as_StepFailed();
  StepEnded(s, f->upgrade_id(), f->step(), f);
}

void OnTrafficShifted(Status& s, const fb::EventEnvelope& e) {
  const auto* t = e.event_as_TrafficShifted();
  if (Upgrade* u = Find(s, t->upgrade_id())) u->weight = t->to_weight();
}

void OnHealthCheck(Status& s, const fb::EventEnvelope& e) {
  const auto* h = e.event_as_HealthCheckRecorded();
  Upgrade* u = Find(s, h->upgrade_id());
  if (u != nullptr && h->verdict() == fb::HealthVerdict::Unhealthy) ++u->unhealthy;
}

void OnPaused(Status& s, const fb::EventEnvelope& e) {
  const auto* p = e.event_as_UpgradePaused();
  if (Upgrade* u = Find(s, p->upgrade_id())) {
    u->phase = Phase::kPaused;
    u->pause_until_ns = p->until_ns();
    // An operator's pause: cause Paused and the reason; a canary's: neither.
    const bool by_operator = p->by() != nullptr && p->by()->size() > 0;
    const std::string why = p->reason() != nullptr ? p->reason()->str() : "";
    u->cause = by_operator ? Phase::kPaused : Phase::kFailed;
    u->reason = by_operator ? "paused by " + p->by()->str() + (why.empty() ? "" : ": " + why) : "";
    EndOperatorPause(*u, e.time_ns());
    // time_ns is never 0 in a real log; max keeps "0 = not paused" true anyway.
    if (by_operator) u->paused_since_ns = std::max<int64_t>(1, e.time_ns());
  }
}

void OnPromoted(Status& s, const fb::EventEnvelope& e) {
  const auto* p = e.event_as_UpgradePromoted();
  if (Upgrade* u = Find(s, p->upgrade_id()); u != nullptr && u->phase == Phase::kPaused) {
    u->phase = Phase::kRunning;
    u->pause_until_ns = 0;
    EndOperatorPause(*u, e.time_ns());
    if (u->cause == Phase::kPaused) u->reason.clear();
    u->cause = Phase::kFailed;
  }
}

void OnCompleted(Status& s, const fb::EventEnvelope& e) {
  const auto* c = e.event_as_UpgradeCompleted();
  if (Upgrade* u = Find(s, c->upgrade_id())) End(s, *u, Phase::kCompleted, e.time_ns());
}

void OnFailed(Status& s, const fb::EventEnvelope& e) {
  const auto* f = e.event_as_UpgradeFailed();
  if (Upgrade* u = Find(s, f->upgrade_id())) Stop(s, *u, Phase::kFailed, f->reason(), f->rollback(), e.time_ns());
}

void OnCancelled(Status& s, const fb::EventEnvelope& e) {
  const auto* c = e.event_as_UpgradeCancelled();
  if (Upgrade* u = Find(s, c->upgrade_id())) Stop(s, *u, Phase::kCancelled, c->reason(), c->rollback(), e.time_ns());
}

void OnAborted(Status& s, const fb::EventEnvelope& e) {
  const auto* a = e.event_as_UpgradeAborted();
  if (Upgrade* u = Find(s, a->upgrade_id())) Stop(s, *u, Phase::kAborted, a->reason(), a->rollback(), e.time_ns());
}

// Of an upgrade: its reverts to do. Otherwise a rollback to a point begins.
void OnRollbackStarted(Status& s, const fb::EventEnvelope& e) {
  const auto* r = e.event_as_RollbackStarted();
  if (Upgrade* u = Find(s, r->upgrade_id())) {
    u->reverts.clear();
    if (r->reverts() != nullptr) u->reverts.assign(r->reverts()->begin(), r->reverts()->end());
    return;
  }
  RollbackOp op;
  op.id = Id::From(r->upgrade_id());
  op.point = Str(r->point());
  op.to_seq = r->to_seq();
  op.reason = Str(r->reason());
  if (r->restore() != nullptr) {
    for (const auto* c : *r->restore()) op.restore.push_back(FromSpec(*c));
  }
  if (r->remove() != nullptr) {
    for (const auto* n : *r->remove()) op.remove.push_back(n->str());
  }
  op.started_ns = e.time_ns();
  s.rollbacks[op.id] = std::move(op);
}

void RollbackEnded(Status& s, const fb::EventEnvelope& e, const fb::Id128* id, bool ok,
                   const flatbuffers::String* reason) {
  if (Upgrade* u = Find(s, id)) {
    if (!ok && u->reason.empty()) u->reason = Str(reason);
    End(s, *u, ok ? Phase::kRolledBack : Phase::kRollbackFailed, e.time_ns());
  } else {
    s.rollbacks.erase(Id::From(id));
  }
}

void OnRollbackCompleted(Status& s, const fb::EventEnvelope& e) {
  RollbackEnded(s, e, e.event_as_RollbackCompleted()->upgrade_id(), true, nullptr);
}

void OnRollbackFailed(Status& s, const fb::EventEnvelope& e) {
  const auto* f = e.event_as_RollbackFailed();
  RollbackEnded(s, e, f->upgrade_id(), false, f->reason());
}

void OnAgentAnnounced(Status& s, const fb::EventEnvelope& e) {
  const auto* a = e.event_as_AgentAnnounced();
  auto& instances = s.agents[a->agent()->str()];
  instances.clear();
  if (a->instances() != nullptr) {
    for (const auto* i : *a->instances()) instances.push_back(i->str());
  }
}

constexpr size_t kEventKinds = static_cast<size_t>(fb::Event::MAX) + 1;

constexpr std::array<Handler, kEventKinds> MakeHandlers() {
  std::array<Handler, kEventKinds> h{};
  auto set = [&h](fb::Event kind, Handler f) { h[static_cast<size_t>(kind)] = f; };
  set(fb::Event::UpgradeRequested, OnRequested);
  set(fb::Event::UpgradeValidated, OnValidated);
  set(fb::Event::UpgradeRejected, OnRejected);
  set(fb::Event::RollbackPointCreated, OnPointCreated);
  set(fb::Event::StepStarted, OnStepStarted);
  set(fb::Event::StepSucceeded, OnStepSucceeded);
  set(fb::Event::StepFailed, OnStepFailed);
  set(fb::Event::TrafficShifted, OnTrafficShifted);
  set(fb::Event::HealthCheckRecorded, OnHealthCheck);
  set(fb::Event::UpgradePaused, OnPaused);
  set(fb::Event::UpgradePromoted, OnPromoted);
  set(fb::Event::UpgradeCompleted, OnCompleted);
  set(fb::Event::UpgradeFailed, OnFailed);
  set(fb::Event::UpgradeCancelled, OnCancelled);
  set(fb::Event::UpgradeAborted, OnAborted);
  set(fb::Event::RollbackStarted, OnRollbackStarted);
  set(fb::Event::RollbackCompleted, OnRollbackCompleted);
  set(fb::Event::RollbackFailed, OnRollbackFailed);
  set(fb::Event::AgentAnnounced, OnAgentAnnounced);
  return h;
}

constexpr std::array<Handler, kEventKinds> kHandlers = MakeHandlers();

}  // namespace

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kQueued: return "queued";
    case Phase::kRunning: return "running";
    case Phase::kPaused: return "paused";
    case Phase::kRollingBack: return "rolling_back";
    case Phase::kCompleted: return "completed";
    case Phase::kRejected: return "rejected";
    case Phase::kFailed: return "failed";
    case Phase::kCancelled: return "cancelled";
    case Phase::kAborted: return "aborted";
    case Phase::kRolledBack: return "rolled_back";
    case Phase::kRollbackFailed: return "rollback_failed";
  }
  return "unknown";
}

size_t Upgrade::Running() const {
  size_t n = 0;
  for (StepState st : steps) n += st == StepState::kRunning;
  return n;
}

void Evolve(Status& s, const fb::EventEnvelope& e) {
  s.seq = e.seq();
  s.last_time_ns = e.time_ns();
  const auto kind = static_cast<size_t>(e.event_type());
  if (kind < kHandlers.size() && kHandlers[kind] != nullptr) kHandlers[kind](s, e);
}

const char* StepStateName(StepState s) {
  switch (s) {
    case StepState::kPending: return "pending";
    case StepState::kRunning: return "running";
    case StepState::kSucceeded: return "succeeded";
    case StepState::kFailed: return "failed";
  }
  return "";
}

}  // namespace noodle::proj
