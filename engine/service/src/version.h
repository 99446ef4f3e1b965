// One immutable version of the projections: what readers (queries, rollback
// planning, snapshots, Current()) see. Internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "noodle/engine/decider.h"
#include "noodle/projections/statistics.h"

namespace noodle::engine {

// How many readers hold a version (ReadSide::Latest hands out counted
// pointers). A copy of a version starts with none.
struct ReaderHolds {
  mutable std::atomic<uint32_t> count{0};
  ReaderHolds() = default;
  ReaderHolds(const ReaderHolds&) {}
  ReaderHolds& operator=(const ReaderHolds&) { return *this; }
};

struct Version {
  State state;              // registry and status
  proj::Statistics stats;
  uint64_t seq = 0;         // the last event folded in (all of them durable)
  ReaderHolds holds;        // the read side's, not part of the value
};

using VersionPtr = std::shared_ptr<const Version>;

}  // namespace noodle::engine
