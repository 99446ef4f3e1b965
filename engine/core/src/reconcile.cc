// Reconcile and Recover: work that follows from the state alone.
#include <algorithm>

#include "lifecycle.h"

namespace noodle::engine {
namespace {

using flatbuffers::FlatBufferBuilder;

bool DependsOn(const proj::Component& c, const std::string& name) {
  return std::any_of(c.dependencies.begin(), c.dependencies.end(), [&](const auto& d) { return d.name == name; });
}

// The next step of a rollback to a point, or its end. Order: remove what is
// newer than the point (dependents first), restore changed components
// (dependents first), then register again what was removed since (dependencies first).
std::optional<Decision> AdvanceRollback(const proj::RollbackOp& op, const State& state, const Context& ctx) {
  for (const auto& [id, u] : state.status.upgrades) {
    if (u.parent == op.id) return std::nullopt;  // one of its upgrades is still running
  }
  Decision d;
  Emitter em(ctx, &d);
  const fb::Id128 fid = op.id.fb();
  const std::string stream = "rollback/" + op.id.hex();
  if (!op.failed.empty()) {
    em.Emit(stream, op.id, fb::Event::RollbackFailed, [&](FlatBufferBuilder& fbb) {
      return fb::CreateRollbackFailed(fbb, &fid, Str(fbb, op.failed)).Union();
    });
    return d;
  }
  const std::string why = "rollback " + op.id.hex() + (op.point.empty() ? "" : " to point " + op.point);

  std::vector<std::string> removals;
  for (const auto& name : op.remove) {
    if (state.registry.find(name) != nullptr) removals.push_back(name);
  }
  for (const auto& name : removals) {
    const auto dependents = state.registry.DependentsOf(name);
    if (!dependents.empty() && removals.size() > 1) continue;  // its dependents go first
    em.Emit("component/" + name, op.id, fb::Event::ComponentDeregistered, [&](FlatBufferBuilder& fbb) {
      return fb::CreateComponentDeregistered(fbb, Str(fbb, name), Str(fbb, why)).Union();
    });
    return d;
  }

  std::vector<const proj::Component*> changed, missing;
  for (const auto& c : op.restore) {
    const proj::Component* now = state.registry.find(c.name);
    if (now == nullptr) missing.push_back(&c);
    else if (!(*now == c)) changed.push_back(&c);
  }
  bool waiting = false;  // a component to restore has another upgrade running
  for (const proj::Component* c : changed) {
    // An upgrade requested after the rollback began runs first: the
    // rollback's own upgrade of the component waits for it to end.
    if (state.status.busy.count(c->name) > 0) {
      waiting = true;
      continue;
    }
    // Dependents first: skip c while another component still to change depends on it.
    bool has_pending_dependent = false;
    for (const proj::Component* other : changed) {
      const proj::Component* other_now = state.registry.find(other->name);
      if (other != c && (DependsOn(*other, c->name) || (other_now && DependsOn(*other_now, c->name)))) {
        has_pending_dependent = true;
      }
    }
    if (has_pending_dependent && changed.size() > 1) continue;
    const proj::Id child = ctx.command_id;
    const fb::Id128 cid = child.fb();
    const std::string from = state.registry.find(c->name)->version;
    em.Emit(UpgradeStream(child), child, fb::Event::UpgradeRequested, [&](FlatBufferBuilder& fbb) {
      return fb::CreateUpgradeRequested(fbb, &cid, Str(fbb, c->name), Str(fbb, from), Str(fbb, c->version),
                                        proj::ToSpec(fbb, *c), 0, 0, 600000, true, fb::ValidationLevel::Basic, true,
                                        Str(fbb, why), 0, &fid)
          .Union();
    });
    d.appends.front().new_stream = true;
    d.ids.push_back(child);
    StartUpgrade(em, state, child);
    return d;
  }
  if (waiting) return std::nullopt;
  for (const proj::Component* c : missing) {
    bool deps_ready = true;
    for (const auto& dep : c->dependencies) deps_ready = deps_ready && state.registry.find(dep.name) != nullptr;
    if (!deps_ready && missing.size() > 1) continue;
    em.Emit("component/" + c->name, op.id, fb::Event::ComponentRegistered, [&](FlatBufferBuilder& fbb) {
      return fb::CreateComponentRegistered(fbb, proj::ToSpec(fbb, *c)).Union();
    });
    return d;
  }
  em.Emit(stream, op.id, fb::Event::RollbackCompleted, [&](FlatBufferBuilder& fbb) {
    return fb::CreateRollbackCompleted(fbb, &fid).Union();
  });
  return d;
}

}  // namespace

std::optional<Decision> Reconcile(const State& state, const Context& ctx, const Limits& limits) {
  for (const auto& [id, op] : state.status.rollbacks) {
    if (auto d = AdvanceRollback(op, state, ctx)) return d;
  }
  if (state.status.busy.size() >= limits.max_running) return std::nullopt;
  const proj::Upgrade* next = nullptr;
  for (const auto& [id, u] : state.status.upgrades) {
    if (u.phase != proj::Phase::kQueued || state.status.busy.count(u.component)) continue;
    if (next == nullptr || u.priority > next->priority ||
        (u.priority == next->priority && u.requested_seq < next->requested_seq)) {
      next = &u;
    }
  }
  if (next == nullptr) return std::nullopt;
  Decision d;
  Emitter em(ctx, &d);
  em.Track(*next);
  StartUpgrade(em, state, next->id);
  return d;
}

std::vector<Decision> Recover(const State& state, const Context& ctx) {
  std::vector<Decision> out;
  uint64_t k = 0;
  for (const auto& [id, u] : state.status.upgrades) {
    const bool revert_interrupted = u.phase == proj::Phase::kRollingBack && u.revert_running;
    if (u.Running() == 0 && !revert_interrupted) continue;
    Context c = ctx;
    c.command_id.lo ^= ++k;  // distinct event ids per decision
    Decision& d = out.emplace_back();
    Emitter em(c, &d);
    em.Track(u);
    StepOutcome interrupted;
    interrupted.exit_code = -1;
    interrupted.reason = "interrupted: the engine stopped while this step ran";
    for (uint32_t i = 0; i < u.steps.size(); ++i) {
      if (u.steps[i] == proj::StepState::kRunning) RecordStepResult(em, id, i, interrupted);
    }
    const proj::Upgrade* now = em.upgrade(id);
    // Run the interrupted revert again: reverts are idempotent by contract.
    if (revert_interrupted && now != nullptr) EmitStepStarted(em, id, now->reverts.front(), true);
  }
  return out;
}

}  // namespace noodle::engine
