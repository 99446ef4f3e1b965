// Finds the newest usable projection snapshots. A snapshot that cannot be
// decoded (garbage, a format newer than this build, a field that no longer
// parses) is skipped with a warning and an older one is tried: a bad
// snapshot costs a longer replay, never a refusal to start. Internal.
#pragma once

#include <cstdint>

#include "noodle/engine/decider.h"
#include "noodle/projections/statistics.h"
#include "noodle/store/event_log.h"

namespace noodle::engine {

// Fills state (and stats, when not null) from the newest snapshot set with
// seq <= at_or_below whose registry, status (and statistics) all decode, and
// returns its seq; 0 when none is usable (state and stats are then left
// empty: replay from seq 1). Tries at most max_tries snapshot sets.
uint64_t LoadNewestSnapshot(const store::EventLog& log, uint64_t at_or_below, State* state, proj::Statistics* stats,
                            int max_tries = 16);

// The registry and status as they were at seq: the newest usable snapshot at
// or below it, then the log up to seq.
Result<State> StateAt(const store::EventLog& log, uint64_t seq);

}  // namespace noodle::engine
