// The steps of one upgrade's lifecycle, shared by Decide, Reconcile and
// Recover. Each works on the emitter's scratch copy of the upgrade and emits
// the events that move it on. Internal to engine/.
#pragma once

#include "emitter.h"
#include "noodle/engine/executor.h"
#include "noodle/engine/validation.h"

namespace noodle::engine {

// Validates a queued upgrade now and starts it (Validated, its rollback
// point, first steps), or rejects it (Rejected with every issue).
// Returns the validation result.
ValidationResult StartUpgrade(Emitter& em, const State& state, const proj::Id& id);

// Starts the steps that may run now, or ends the upgrade or its rollback when
// nothing is left to do.
void Advance(Emitter& em, const proj::Id& id);

// Stops a running or paused upgrade: Failed, Cancelled or Aborted, then its
// rollback when rollback is enabled and some step ran.
void Stop(Emitter& em, const proj::Id& id, fb::Event how, const std::string& reason, const std::string& by,
          uint32_t step = 0);

// Records an executor's outcome for a step that is running (plan steps are
// 0..n-1, the revert of plan step k is n+k).
void RecordStepResult(Emitter& em, const proj::Id& id, uint32_t step, const StepOutcome& outcome);

// Starts plan step k of the upgrade, or (revert) the revert of plan step k.
void EmitStepStarted(Emitter& em, const proj::Id& id, uint32_t k, bool revert);

}  // namespace noodle::engine
