// Statistics projection: how upgrades ended, and how long they took, overall
// and per component. Pure: no disk, no sockets. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "noodle/fb/events_generated.h"
#include "noodle/projections/component.h"

namespace noodle::proj {

// Outcome names: completed, rejected, failed, cancelled, aborted (how the
// upgrade ended or what started its rollback), and rolled_back,
// rollback_failed (how that rollback went).
struct Tally {
  std::map<std::string, uint64_t> outcomes;
  std::vector<int64_t> durations_ns;  // request to end, in the order they ended
  bool operator==(const Tally&) const = default;
};

struct DurationSummary {
  uint64_t count = 0;
  int64_t min_ns = 0, median_ns = 0, p95_ns = 0, max_ns = 0;
};
// Nearest-rank percentiles over the tally's durations.
DurationSummary Summarize(const Tally& t);

struct Statistics {
  static constexpr const char* kName = "statistics";
  uint64_t seq = 0;
  Tally overall;
  std::map<std::string, Tally> per_component;
  // Upgrades not ended yet: their component and request time.
  struct Open {
    std::string component;
    int64_t requested_ns = 0;
    bool operator==(const Open&) const = default;
  };
  std::map<Id, Open> open;
  bool operator==(const Statistics&) const = default;
};

void Evolve(Statistics& s, const fb::EventEnvelope& e);

}  // namespace noodle::proj
