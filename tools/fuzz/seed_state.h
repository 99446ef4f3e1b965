// A small engine state for the fuzz targets: components registered and an
// upgrade in flight, built by the real decider and folds, so a fuzzed
// command or event meets the state they act on in practice.
#pragma once

#include <string>
#include <vector>

#include "noodle/engine/decider.h"
#include "noodle/projections/statistics.h"

namespace noodle::fuzz {

struct SeedState {
  engine::State state;
  proj::Statistics statistics;
  std::vector<std::string> events;  // the events that built it, in order (seed corpus)
};

// Built once (decide + evolve of a few commands), then copied per input.
const SeedState& Seed();

// Folds a decision's events into state (and statistics when given); aborts
// if the decider produced an event that does not verify.
// Appends the events to *events when given.
void Apply(const engine::Decision& d, engine::State* state, proj::Statistics* statistics,
           std::vector<std::string>* events = nullptr);

}  // namespace noodle::fuzz
