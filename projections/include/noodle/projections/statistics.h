// Statistics projection: how upgrades ended, and how long they took, overall
// and per component. Pure: no disk, no sockets. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "noodle/fb/events_generated.h"
#include "noodle/projections/component.h"

namespace noodle::proj {

// Durations in bounded form: a log-linear histogram, so a tally (and its
// snapshot) stays the same size however many upgrades end. Values below 128
// ns have a bucket each; from there each power of two [2^e, 2^(e+1)) is cut
// into 64 equal buckets, so a bucket is at most 1/64 of its lower bound wide.
// A percentile is read as its bucket's midpoint, clamped to the exact min
// and max: within 1/128 (0.79 %) of the exact nearest-rank value. At most 64
// buckets per power of two are held: about 1,400 for anything from 1 ms to
// an hour, typically a few dozen.
struct DurationHistogram {
  static constexpr int kSubBits = 6;                        // 64 buckets per power of two
  static constexpr uint32_t kBuckets = (63 - kSubBits + 1) << kSubBits;  // up to INT64_MAX
  uint64_t count = 0;
  int64_t min_ns = 0, max_ns = 0;        // exact; 0 while empty
  // (bucket, values in it), by bucket, none empty: a sorted vector, as an
  // Add mostly finds its bucket among a few dozen and a map costs a node walk.
  std::vector<std::pair<uint32_t, uint64_t>> buckets;
  bool operator==(const DurationHistogram&) const = default;

  void Add(int64_t ns);  // a negative duration counts as 0
  uint64_t CountIn(uint32_t bucket) const;  // values in that bucket
  // The nearest-rank p-quantile (0 < p <= 1) within the bound above; 0 while empty.
  int64_t Percentile(double p) const;
  static uint32_t BucketOf(int64_t ns);
  static int64_t LowerBound(uint32_t bucket);
  static int64_t Width(uint32_t bucket);
};

// Outcome names: completed, rejected, failed, cancelled, aborted (how the
// upgrade ended or what started its rollback), and rolled_back,
// rollback_failed (how that rollback went).
struct Tally {
  std::map<std::string, uint64_t> outcomes;
  DurationHistogram durations;  // request to end
  bool operator==(const Tally&) const = default;
};

struct DurationSummary {
  uint64_t count = 0;
  int64_t min_ns = 0, median_ns = 0, p95_ns = 0, max_ns = 0;
};
// min and max exact; median and p95 by nearest rank, within the histogram's bound.
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
