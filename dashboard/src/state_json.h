// The dashboard's JSON: the state snapshot of /api/state and the data line
// of each event on /api/events. Pure. Internal.
#pragma once

#include <string>

#include "noodle/dashboard/dashboard.h"
#include "noodle/engine/decider.h"
#include "noodle/fb/events_generated.h"

namespace noodle::dashboard {

// Components (version, type, dependencies), upgrades in flight (phase,
// weight, steps, health), recent history (newest first), rollback points,
// rollbacks in progress, last seq and audit.
std::string StateJson(const engine::State& state, const Audit& audit);

// seq, type, stream, time_ns, actor; for an upgrade's event also upgrade,
// component, phase and weight, as of `state` (the state after the round the
// event is in, so a phase may be a few events ahead of this one).
std::string EventJson(const fb::EventEnvelope& e, const engine::State& state);

}  // namespace noodle::dashboard
