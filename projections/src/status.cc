#include "noodle/projections/status.h"

namespace noodle::proj {
namespace {

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

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
  s.recent.push_back({u.id, u.component, u.from_version, u.to_version, u.reason, phase, u.requested_ns, now});
  if (s.recent.size() > Status::kRecentKept) s.recent.pop_front();
  ++s.history_count;
  const Id id = u.id;
  s.upgrades.erase(id);  // u dangles from here on
}

// Failed, cancelled or aborted: the end, or the start of its rollback.
void Stop(Status& s, Upgrade& u, Phase cause, const flatbuffers::String* reason, bool rollback, int64_t now) {
  if (reason != nullptr && u.reason.empty()) u.reason = reason->str();
  if (rollback) {
    Dequeue(s, u);
    u.phase = Phase::kRollingBack;
    u.cause = cause;
  } else {
    End(s, u, cause, now);
  }
}

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
  const int64_t now = e.time_ns();
  auto upgrade = [&s](const fb::Id128* id) -> Upgrade* {
    auto it = s.upgrades.find(Id::From(id));
    return it == s.upgrades.end() ? nullptr : &it->second;
  };

  switch (e.event_type()) {
    case fb::Event::UpgradeRequested: {
      const auto* r = e.event_as_UpgradeRequested();
      Upgrade u;
      u.id = Id::From(r->upgrade_id());
      u.parent = Id::From(r->parent_id());
      u.component = r->component()->str();
      u.expected_version = Str(r->expected_version());
      u.to_version = r->target_version()->str();
      u.strategy = FromStrategy(r->strategy());
      if (r->target() != nullptr) {
        u.requested_target = FromSpec(*r->target());
        u.has_requested_target = true;
      }
      u.priority = r->priority();
      u.timeout_ms = r->timeout_ms();
      u.rollback_enabled = r->rollback_enabled();
      u.level = r->validation_level();
      u.allow_breaking = r->allow_breaking();
      u.requested_by = Str(r->requested_by());
      u.requested_seq = e.seq();
      u.requested_ns = now;
      ++s.queued[u.component];
      s.upgrades[u.id] = std::move(u);
      break;
    }
    case fb::Event::UpgradeValidated: {
      const auto* v = e.event_as_UpgradeValidated();
      Upgrade* u = upgrade(v->upgrade_id());
      if (u == nullptr) break;
      Dequeue(s, *u);
      u->phase = Phase::kRunning;
      u->started_ns = now;
      u->from_version = Str(v->from_version());
      if (v->target() != nullptr) u->target = FromSpec(*v->target());
      u->parallel = v->parallel();
      u->plan.clear();
      if (v->plan() != nullptr) {
        for (const auto* p : *v->plan()) {
          u->plan.push_back({ResolveStepAction(p->action_kind(), p->action()), Str(p->instance()), p->weight(), p->pause()});
        }
      }
      u->steps.assign(u->plan.size(), StepState::kPending);
      s.busy[u->component] = u->id;
      break;
    }
    case fb::Event::UpgradeRejected: {
      const auto* r = e.event_as_UpgradeRejected();
      Upgrade* u = upgrade(r->upgrade_id());
      if (u == nullptr) break;
      if (r->errors() != nullptr && r->errors()->size() > 0) u->reason = r->errors()->Get(0)->message()->str();
      u->from_version = Str(r->from_version());
      End(s, *u, Phase::kRejected, now);
      break;
    }
    case fb::Event::RollbackPointCreated: {
      const auto* p = e.event_as_RollbackPointCreated();
      // An upgrade's own point is found through the upgrade; only named
      // points are kept here (one per upgrade would grow without bound).
      if (p->upgrade_id() == nullptr || Id::From(p->upgrade_id()).zero()) s.points[p->name()->str()] = p->at_seq();
      break;
    }
    case fb::Event::StepStarted: {
      const auto* st = e.event_as_StepStarted();
      Upgrade* u = upgrade(st->upgrade_id());
      if (u == nullptr) break;
      if (st->revert()) {
        u->revert_running = true;
      } else if (st->step() < u->steps.size()) {
        u->steps[st->step()] = StepState::kRunning;
      }
      break;
    }
    case fb::Event::StepSucceeded:
    case fb::Event::StepFailed: {
      const bool ok = e.event_type() == fb::Event::StepSucceeded;
      const auto* id = ok ? e.event_as_StepSucceeded()->upgrade_id() : e.event_as_StepFailed()->upgrade_id();
      const uint32_t step = ok ? e.event_as_StepSucceeded()->step() : e.event_as_StepFailed()->step();
      Upgrade* u = upgrade(id);
      if (u == nullptr) break;
      if (step < u->steps.size()) {
        u->steps[step] = ok ? StepState::kSucceeded : StepState::kFailed;
      } else {
        // A revert leaves the to-do list whatever its outcome; a failed one
        // is remembered and the rollback goes on with the others.
        const uint32_t k = step - static_cast<uint32_t>(u->plan.size());
        std::erase(u->reverts, k);
        u->revert_running = false;
        if (!ok) {
          const auto* f = e.event_as_StepFailed();
          u->revert_failures.push_back("revert of step " + std::to_string(k + 1) +
                                       (k < u->plan.size() && !u->plan[k].instance.empty() ? " on " + u->plan[k].instance : "") +
                                       ": " + Str(f->reason()));
        }
      }
      break;
    }
    case fb::Event::TrafficShifted: {
      const auto* t = e.event_as_TrafficShifted();
      if (Upgrade* u = upgrade(t->upgrade_id())) u->weight = t->to_weight();
      break;
    }
    case fb::Event::HealthCheckRecorded: {
      const auto* h = e.event_as_HealthCheckRecorded();
      Upgrade* u = upgrade(h->upgrade_id());
      if (u != nullptr && h->verdict() == fb::HealthVerdict::Unhealthy) ++u->unhealthy;
      break;
    }
    case fb::Event::UpgradePaused: {
      const auto* p = e.event_as_UpgradePaused();
      if (Upgrade* u = upgrade(p->upgrade_id())) {
        u->phase = Phase::kPaused;
        u->pause_until_ns = p->until_ns();
      }
      break;
    }
    case fb::Event::UpgradePromoted: {
      const auto* p = e.event_as_UpgradePromoted();
      if (Upgrade* u = upgrade(p->upgrade_id()); u != nullptr && u->phase == Phase::kPaused) {
        u->phase = Phase::kRunning;
        u->pause_until_ns = 0;
      }
      break;
    }
    case fb::Event::UpgradeCompleted: {
      const auto* c = e.event_as_UpgradeCompleted();
      if (Upgrade* u = upgrade(c->upgrade_id())) End(s, *u, Phase::kCompleted, now);
      break;
    }
    case fb::Event::UpgradeFailed: {
      const auto* f = e.event_as_UpgradeFailed();
      if (Upgrade* u = upgrade(f->upgrade_id())) Stop(s, *u, Phase::kFailed, f->reason(), f->rollback(), now);
      break;
    }
    case fb::Event::UpgradeCancelled: {
      const auto* c = e.event_as_UpgradeCancelled();
      if (Upgrade* u = upgrade(c->upgrade_id())) Stop(s, *u, Phase::kCancelled, c->reason(), c->rollback(), now);
      break;
    }
    case fb::Event::UpgradeAborted: {
      const auto* a = e.event_as_UpgradeAborted();
      if (Upgrade* u = upgrade(a->upgrade_id())) Stop(s, *u, Phase::kAborted, a->reason(), a->rollback(), now);
      break;
    }
    case fb::Event::RollbackStarted: {
      const auto* r = e.event_as_RollbackStarted();
      if (Upgrade* u = upgrade(r->upgrade_id())) {
        u->reverts.clear();
        if (r->reverts() != nullptr) u->reverts.assign(r->reverts()->begin(), r->reverts()->end());
        break;
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
      op.started_ns = now;
      s.rollbacks[op.id] = std::move(op);
      break;
    }
    case fb::Event::RollbackCompleted:
    case fb::Event::RollbackFailed: {
      const bool ok = e.event_type() == fb::Event::RollbackCompleted;
      const auto* id = ok ? e.event_as_RollbackCompleted()->upgrade_id() : e.event_as_RollbackFailed()->upgrade_id();
      if (Upgrade* u = upgrade(id)) {
        if (!ok && u->reason.empty()) u->reason = e.event_as_RollbackFailed()->reason()->str();
        End(s, *u, ok ? Phase::kRolledBack : Phase::kRollbackFailed, now);
      } else {
        s.rollbacks.erase(Id::From(id));
      }
      break;
    }
    case fb::Event::AgentAnnounced: {
      const auto* a = e.event_as_AgentAnnounced();
      auto& instances = s.agents[a->agent()->str()];
      instances.clear();
      if (a->instances() != nullptr) {
        for (const auto* i : *a->instances()) instances.push_back(i->str());
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace noodle::proj
