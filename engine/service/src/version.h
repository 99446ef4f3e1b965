// One immutable version of the projections: what readers (queries, rollback
// planning, snapshots, Current()) see. Internal.
#pragma once

#include <cstdint>
#include <memory>

#include "noodle/engine/decider.h"
#include "noodle/projections/statistics.h"

namespace noodle::engine {

struct Version {
  State state;              // registry and status
  proj::Statistics stats;
  uint64_t seq = 0;         // the last event folded in (all of them durable)
};

using VersionPtr = std::shared_ptr<const Version>;

}  // namespace noodle::engine
