#include "lifecycle.h"

namespace noodle::engine {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// Components run by agents are upgraded instance by instance (an agent acts
// on the steps of its own instances): canary upgrades a growing share of the
// instances and pauses between weights; immediate does all at once; gradual
// one after the other.
std::vector<proj::PlanStep> BuildInstancePlan(const proj::Upgrade& u, const proj::Component& target, uint32_t* parallel) {
  std::vector<proj::PlanStep> plan;
  const fb::StepAction swap = target.hot_swappable ? fb::StepAction::Swap : fb::StepAction::Restart;
  const size_t n = target.instances.size();
  auto step = [&](size_t i) {
    return proj::PlanStep{swap, target.instances[i], static_cast<uint8_t>(100 * (i + 1) / n), false};
  };
  const auto& st = u.strategy;
  *parallel = 1;
  if (st.kind == fb::StrategyKind::Canary) {
    size_t covered = 0;
    for (size_t w = 0; w < st.weights.size(); ++w) {
      const size_t upto = std::min(n, std::max<size_t>(1, (n * st.weights[w] + 99) / 100));
      for (; covered < upto; ++covered) plan.push_back(step(covered));
      if (!plan.empty() && w + 1 < st.weights.size()) plan.back().pause = true;
    }
    // A pause on the last step would wait for nothing.
    if (!plan.empty()) plan.back().pause = false;
    return plan;
  }
  for (size_t i = 0; i < n; ++i) plan.push_back(step(i));
  if (st.kind == fb::StrategyKind::Immediate) *parallel = static_cast<uint32_t>(std::max<size_t>(1, n));
  if (st.kind == fb::StrategyKind::Rolling) {
    *parallel = std::max<uint32_t>(1, std::min<uint32_t>(st.max_unavailable, static_cast<uint32_t>(n)));
  }
  return plan;
}

// The plan is fixed at validation and recorded, so replay never re-plans.
std::vector<proj::PlanStep> BuildPlan(const proj::Upgrade& u, const proj::Component& target, uint32_t* parallel) {
  if (target.executor == fb::ExecutorKind::Agent) return BuildInstancePlan(u, target, parallel);
  std::vector<proj::PlanStep> plan;
  const fb::StepAction swap = target.hot_swappable ? fb::StepAction::Swap : fb::StepAction::Restart;
  const auto& st = u.strategy;
  *parallel = 1;
  switch (st.kind) {
    case fb::StrategyKind::Immediate:
      plan.push_back({swap, "", 100, false});
      break;
    case fb::StrategyKind::Gradual:
      for (uint32_t k = 1; k <= st.steps; ++k) plan.push_back({fb::StepAction::Shift, "", static_cast<uint8_t>(100 * k / st.steps), false});
      break;
    case fb::StrategyKind::Canary:
      for (size_t i = 0; i < st.weights.size(); ++i) {
        plan.push_back({fb::StepAction::Shift, "", st.weights[i], i + 1 < st.weights.size()});
      }
      break;
    case fb::StrategyKind::BlueGreen:
      plan.push_back({fb::StepAction::Deploy, "", 0, false});
      plan.push_back({fb::StepAction::Verify, "", 0, false});
      plan.push_back({fb::StepAction::Switch, "", 100, false});
      break;
    case fb::StrategyKind::Rolling: {
      const size_t n = target.instances.size();
      for (size_t i = 0; i < n; ++i) {
        plan.push_back({swap, target.instances[i], static_cast<uint8_t>(100 * (i + 1) / n), false});
      }
      *parallel = std::max<uint32_t>(1, std::min<uint32_t>(st.max_unavailable, static_cast<uint32_t>(n)));
      break;
    }
  }
  return plan;
}

// What a rollback must undo: a per-instance plan reverts every instance it
// touched, those whose step succeeded first (newest first), then those whose
// step failed or was cut short (their host may be the reason); the others
// revert the upgrade as a whole, once.
std::vector<uint32_t> BuildReverts(const proj::Upgrade& u) {
  std::vector<uint32_t> reverts;
  const bool per_instance = !u.plan.empty() && !u.plan.front().instance.empty();
  if (!per_instance) {
    for (uint32_t i = static_cast<uint32_t>(u.steps.size()); i-- > 0;) {
      if (u.steps[i] != proj::StepState::kPending) return {i};
    }
    return reverts;
  }
  for (bool succeeded : {true, false}) {
    for (uint32_t i = static_cast<uint32_t>(u.steps.size()); i-- > 0;) {
      if (u.steps[i] == proj::StepState::kPending) continue;
      if ((u.steps[i] == proj::StepState::kSucceeded) == succeeded) reverts.push_back(i);
    }
  }
  return reverts;
}

std::string StepName(const proj::Upgrade& u, uint32_t k) {
  const auto& p = u.plan[k];
  return "step " + std::to_string(k + 1) + " (" + proj::StepActionName(p.action) +
         (p.instance.empty() ? "" : " on " + p.instance) + ")";
}

}  // namespace

ValidationResult StartUpgrade(Emitter& em, const State& state, const proj::Id& id) {
  const proj::Upgrade& u = *em.upgrade(id);
  ValidationResult v = ValidateUpgrade(u, state);
  const std::string stream = UpgradeStream(id);
  const fb::Id128 fid = id.fb();
  if (!v.errors.empty()) {
    em.Emit(stream, id, fb::Event::UpgradeRejected, [&](FlatBufferBuilder& fbb) {
      std::vector<Offset<fb::ValidationError>> errors;
      for (const auto& e : v.errors) {
        errors.push_back(
            fb::CreateValidationError(fbb, Str(fbb, e.code), Str(fbb, e.field), Str(fbb, e.message), e.kind));
      }
      return fb::CreateUpgradeRejected(fbb, &fid, fbb.CreateVector(errors), Str(fbb, v.from_version)).Union();
    });
    return v;
  }
  uint32_t parallel = 1;
  const auto plan = BuildPlan(u, v.target, &parallel);
  const fb::ValidationLevel level = u.level;
  em.Emit(stream, id, fb::Event::UpgradeValidated, [&](FlatBufferBuilder& fbb) {
    std::vector<Offset<fb::PlannedStep>> steps;
    for (const auto& p : plan) {
      steps.push_back(fb::CreatePlannedStep(fbb, Str(fbb, proj::StepActionName(p.action)), Str(fbb, p.instance),
                                            p.weight, p.pause, p.action));
    }
    return fb::CreateUpgradeValidated(fbb, &fid, level, v.breaking, fbb.CreateVectorOfStrings(v.warnings),
                                      fbb.CreateVector(steps), parallel, Str(fbb, v.from_version),
                                      proj::ToSpec(fbb, v.target))
        .Union();
  });
  const uint64_t at_seq = state.status.seq;
  em.Emit(stream, id, fb::Event::RollbackPointCreated, [&](FlatBufferBuilder& fbb) {
    return fb::CreateRollbackPointCreated(fbb, Str(fbb, "before-upgrade-" + id.hex()), at_seq, &fid).Union();
  });
  Advance(em, id);
  return v;
}

void Advance(Emitter& em, const proj::Id& id) {
  proj::Upgrade* u = em.upgrade(id);
  if (u == nullptr) return;
  const std::string stream = UpgradeStream(id);
  const fb::Id128 fid = id.fb();
  const auto n = static_cast<uint32_t>(u->plan.size());

  if (u->phase == proj::Phase::kRunning) {
    bool all_done = true;
    for (auto st : u->steps) all_done = all_done && st == proj::StepState::kSucceeded;
    if (all_done) {
      const proj::Upgrade done = *u;
      em.Emit(stream, id, fb::Event::UpgradeCompleted, [&](FlatBufferBuilder& fbb) {
        return fb::CreateUpgradeCompleted(fbb, &fid, Str(fbb, done.component), Str(fbb, done.from_version),
                                          Str(fbb, done.to_version), em.ctx().now_ns - done.requested_ns,
                                          proj::ToSpec(fbb, done.target))
            .Union();
      });
      return;
    }
    size_t running = u->Running();
    for (uint32_t i = 0; i < n && running < u->parallel; ++i) {
      if (u->steps[i] != proj::StepState::kPending) continue;
      // One at a time, in order, unless the plan allows parallel steps.
      if (u->parallel == 1 && i > 0 && u->steps[i - 1] != proj::StepState::kSucceeded) break;
      EmitStepStarted(em, id, i, false);
      ++running;
    }
    return;
  }

  if (u->phase == proj::Phase::kRollingBack) {
    if (u->Running() > 0 || u->revert_running) return;  // wait for the steps in flight
    if (u->reverts.empty()) {
      if (!u->revert_failures.empty()) {
        std::string why;
        for (const auto& f : u->revert_failures) why += (why.empty() ? "" : "; ") + f;
        em.Emit(stream, id, fb::Event::RollbackFailed, [&](FlatBufferBuilder& fbb) {
          return fb::CreateRollbackFailed(fbb, &fid, Str(fbb, why)).Union();
        });
        return;
      }
      const std::string restored = u->from_version;
      em.Emit(stream, id, fb::Event::RollbackCompleted, [&](FlatBufferBuilder& fbb) {
        return fb::CreateRollbackCompleted(fbb, &fid, Str(fbb, restored)).Union();
      });
      return;
    }
    EmitStepStarted(em, id, u->reverts.front(), true);
  }
}

void EmitStepStarted(Emitter& em, const proj::Id& id, uint32_t k, bool revert) {
  const proj::Upgrade& u = *em.upgrade(id);
  const proj::PlanStep p = u.plan[k];
  const uint32_t number = revert ? u.RevertStepNumber(k) : k;
  const auto n = static_cast<uint32_t>(u.plan.size());
  const fb::Id128 fid = id.fb();
  em.Emit(UpgradeStream(id), id, fb::Event::StepStarted, [&](FlatBufferBuilder& fbb) {
    const auto action = Str(fbb, proj::StepActionName(p.action));
    const auto instance = Str(fbb, p.instance);
    fb::StepStartedBuilder b(fbb);
    b.add_upgrade_id(&fid);
    b.add_step(number);
    b.add_of_steps(n);
    b.add_action(action);
    b.add_action_kind(p.action);
    b.add_instance(instance);
    b.add_weight(revert ? 0 : p.weight);
    b.add_revert(revert);
    b.add_reverts(revert ? k : 0);
    return b.Finish().Union();
  });
}

void Stop(Emitter& em, const proj::Id& id, fb::Event how, const std::string& reason, const std::string& by,
          uint32_t step) {
  proj::Upgrade* u = em.upgrade(id);
  if (u == nullptr) return;
  const std::string stream = UpgradeStream(id);
  const fb::Id128 fid = id.fb();
  const std::vector<uint32_t> reverts = BuildReverts(*u);
  const bool rollback = u->rollback_enabled && !reverts.empty();
  em.Emit(stream, id, how, [&](FlatBufferBuilder& fbb) -> Offset<void> {
    if (how == fb::Event::UpgradeCancelled) {
      return fb::CreateUpgradeCancelled(fbb, &fid, Str(fbb, by), Str(fbb, reason), rollback).Union();
    }
    if (how == fb::Event::UpgradeAborted) {
      return fb::CreateUpgradeAborted(fbb, &fid, Str(fbb, by), Str(fbb, reason), rollback).Union();
    }
    return fb::CreateUpgradeFailed(fbb, &fid, Str(fbb, reason), step, rollback).Union();
  });
  if (!rollback) return;
  em.Emit(stream, id, fb::Event::RollbackStarted, [&](FlatBufferBuilder& fbb) {
    return fb::CreateRollbackStarted(fbb, &fid, 0, 0, Str(fbb, reason), 0, 0, fbb.CreateVector(reverts)).Union();
  });
  Advance(em, id);
}

namespace {

Offset<void> StepSucceededEvent(FlatBufferBuilder& fbb, const fb::Id128& fid, uint32_t step, const StepOutcome& o) {
  const auto tail = Str(fbb, o.output_tail), signer = Str(fbb, o.signer);
  fb::StepSucceededBuilder b(fbb);
  b.add_upgrade_id(&fid);
  b.add_step(step);
  b.add_exit_code(o.exit_code);
  b.add_output_tail(tail);
  b.add_duration_ns(o.duration_ns);
  b.add_signer(signer);
  return b.Finish().Union();
}

Offset<void> StepFailedEvent(FlatBufferBuilder& fbb, const fb::Id128& fid, uint32_t step, const StepOutcome& o,
                             const std::string& why) {
  const auto reason = Str(fbb, why), tail = Str(fbb, o.output_tail), signer = Str(fbb, o.signer);
  fb::StepFailedBuilder b(fbb);
  b.add_upgrade_id(&fid);
  b.add_step(step);
  b.add_outcome(o.timed_out ? fb::StepOutcome::TimedOut : fb::StepOutcome::Failed);
  b.add_exit_code(o.exit_code);
  b.add_reason(reason);
  b.add_output_tail(tail);
  b.add_duration_ns(o.duration_ns);
  b.add_signer(signer);
  return b.Finish().Union();
}

}  // namespace

void RecordStepResult(Emitter& em, const proj::Id& id, uint32_t step, const StepOutcome& outcome) {
  proj::Upgrade* u = em.upgrade(id);
  if (u == nullptr) return;
  const std::string stream = UpgradeStream(id);
  const fb::Id128 fid = id.fb();
  const auto n = static_cast<uint32_t>(u->plan.size());
  const bool is_revert = step >= n;
  const uint32_t k = is_revert ? step - n : step;
  const bool succeeded = outcome.succeeded;
  const std::string name = (is_revert ? "revert of " : "") + StepName(*u, k);
  const std::string why = !outcome.reason.empty() ? outcome.reason
                          : outcome.timed_out     ? "timed out"
                                                  : "exit code " + std::to_string(outcome.exit_code);
  if (succeeded) {
    em.Emit(stream, id, fb::Event::StepSucceeded,
            [&](FlatBufferBuilder& fbb) { return StepSucceededEvent(fbb, fid, step, outcome); });
  } else {
    em.Emit(stream, id, fb::Event::StepFailed,
            [&](FlatBufferBuilder& fbb) { return StepFailedEvent(fbb, fid, step, outcome, why); });
  }
  u = em.upgrade(id);
  const uint8_t weight_now = u->weight;
  auto shift = [&](uint8_t to) {
    em.Emit(stream, id, fb::Event::TrafficShifted, [&](FlatBufferBuilder& fbb) {
      return fb::CreateTrafficShifted(fbb, &fid, weight_now, to).Union();
    });
  };

  if (is_revert) {
    // A failed revert is recorded (StepFailed) and the rollback goes on with
    // the others; it ends in RollbackFailed listing what could not be undone.
    if (succeeded && u->reverts.empty() && weight_now != 0) shift(0);
    Advance(em, id);
    return;
  }
  if (!succeeded) {
    if (u->phase == proj::Phase::kRunning || u->phase == proj::Phase::kPaused) {
      Stop(em, id, fb::Event::UpgradeFailed, name + " failed: " + why, "", step);
    } else {
      Advance(em, id);
    }
    return;
  }
  const proj::PlanStep p = u->plan[step];
  // A step that finishes during an operator's pause still shifts traffic
  // and still pauses a canary at its weight (that pause then replaces the
  // operator's: promote or resume goes on).
  const bool going = u->phase == proj::Phase::kRunning ||
                     (u->phase == proj::Phase::kPaused && u->cause == proj::Phase::kPaused);
  if (p.weight != weight_now && going) shift(p.weight);
  if (going && p.pause && step + 1 < n) {
    const int64_t until = u->strategy.pause_ms == 0 ? 0 : em.ctx().now_ns + int64_t{u->strategy.pause_ms} * 1'000'000;
    em.Emit(stream, id, fb::Event::UpgradePaused, [&](FlatBufferBuilder& fbb) {
      return fb::CreateUpgradePaused(fbb, &fid, p.weight, until).Union();
    });
    return;
  }
  Advance(em, id);
}

}  // namespace noodle::engine
