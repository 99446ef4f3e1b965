#include "noodle/projections/statistics.h"

#include <algorithm>
#include <bit>

#include "noodle/projections/time_math.h"

namespace noodle::proj {
namespace {

// An open upgrade's outcome, counted; when it `ends` (no rollback follows),
// its duration too, and it is no longer open. One lookup of each map.
void Count(Statistics& s, const Id& id, const char* outcome, bool ends, int64_t now) {
  auto it = s.open.find(id);
  if (it == s.open.end()) return;
  Tally& component = s.per_component[it->second.component];
  ++s.overall.outcomes[outcome];
  ++component.outcomes[outcome];
  if (!ends) return;
  const int64_t d = ElapsedNs(it->second.requested_ns, now);
  s.overall.durations.Add(d);
  component.durations.Add(d);
  s.open.erase(it);
}

}  // namespace

uint32_t DurationHistogram::BucketOf(int64_t ns) {
  constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  const uint64_t v = ns < 0 ? 0 : static_cast<uint64_t>(ns);
  if (v < 2 * kSub) return static_cast<uint32_t>(v);  // buckets of width 1
  const int shift = std::bit_width(v) - 1 - kSubBits;  // v is in [2^(shift+6), 2^(shift+7))
  return static_cast<uint32_t>((static_cast<uint64_t>(shift + 1) << kSubBits) + (v >> shift) - kSub);
}

int64_t DurationHistogram::LowerBound(uint32_t bucket) {
  constexpr uint32_t kSub = 1u << kSubBits;
  if (bucket < 2 * kSub) return bucket;
  const int shift = static_cast<int>(bucket >> kSubBits) - 1;
  return static_cast<int64_t>(static_cast<uint64_t>(kSub + (bucket & (kSub - 1))) << shift);
}

int64_t DurationHistogram::Width(uint32_t bucket) {
  if (bucket < (2u << kSubBits)) return 1;
  return int64_t{1} << ((bucket >> kSubBits) - 1);
}

namespace {
auto FindBucket(auto& buckets, uint32_t b) {
  return std::lower_bound(buckets.begin(), buckets.end(), b, [](const auto& e, uint32_t k) { return e.first < k; });
}
}  // namespace

uint64_t DurationHistogram::CountIn(uint32_t bucket) const {
  auto it = FindBucket(buckets, bucket);
  return it != buckets.end() && it->first == bucket ? it->second : 0;
}

void DurationHistogram::Add(int64_t ns) {
  ns = std::max<int64_t>(0, ns);
  min_ns = count == 0 ? ns : std::min(min_ns, ns);
  max_ns = count == 0 ? ns : std::max(max_ns, ns);
  ++count;
  const uint32_t b = BucketOf(ns);
  auto it = FindBucket(buckets, b);
  if (it != buckets.end() && it->first == b) {
    ++it->second;
  } else {
    buckets.insert(it, {b, 1});
  }
}

int64_t DurationHistogram::Percentile(double p) const {
  if (count == 0) return 0;
  // The rank as Summarize always took it: ceil(p * count), at least 1.
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(p * static_cast<double>(count) + 0.999999), 1, count);
  uint64_t seen = 0;
  for (const auto& [bucket, n] : buckets) {
    seen += n;
    if (seen >= rank) {
      // The midpoint is within half a width of every value in the bucket.
      const int64_t mid = LowerBound(bucket) + Width(bucket) / 2;
      return std::clamp(mid, min_ns, max_ns);
    }
  }
  return max_ns;  // only when the buckets hold fewer than count (Decode refuses that)
}

DurationSummary Summarize(const Tally& t) {
  const DurationHistogram& h = t.durations;
  DurationSummary d;
  d.count = h.count;
  if (d.count == 0) return d;
  d.min_ns = h.min_ns;
  d.median_ns = h.Percentile(0.5);
  d.p95_ns = h.Percentile(0.95);
  d.max_ns = h.max_ns;
  return d;
}

void Evolve(Statistics& s, const fb::EventEnvelope& e) {
  s.seq = e.seq();
  const int64_t now = e.time_ns();
  switch (e.event_type()) {
    case fb::Event::UpgradeRequested: {
      const auto* r = e.event_as_UpgradeRequested();
      s.open[Id::From(r->upgrade_id())] = {r->component()->str(), now};
      break;
    }
    case fb::Event::UpgradeCompleted: {
      const Id id = Id::From(e.event_as_UpgradeCompleted()->upgrade_id());
      Count(s, id, "completed", true, now);
      break;
    }
    case fb::Event::UpgradeRejected: {
      const Id id = Id::From(e.event_as_UpgradeRejected()->upgrade_id());
      Count(s, id, "rejected", true, now);
      break;
    }
    case fb::Event::UpgradeFailed:
    case fb::Event::UpgradeCancelled:
    case fb::Event::UpgradeAborted: {
      Id id;
      bool rollback = false;
      const char* outcome = "failed";
      if (const auto* f = e.event_as_UpgradeFailed()) {
        id = Id::From(f->upgrade_id());
        rollback = f->rollback();
      } else if (const auto* c = e.event_as_UpgradeCancelled()) {
        id = Id::From(c->upgrade_id());
        rollback = c->rollback();
        outcome = "cancelled";
      } else if (const auto* a = e.event_as_UpgradeAborted()) {
        id = Id::From(a->upgrade_id());
        rollback = a->rollback();
        outcome = "aborted";
      }
      Count(s, id, outcome, /*ends=*/!rollback, now);
      break;
    }
    case fb::Event::RollbackCompleted:
    case fb::Event::RollbackFailed: {
      const bool ok = e.event_type() == fb::Event::RollbackCompleted;
      const Id id = Id::From(ok ? e.event_as_RollbackCompleted()->upgrade_id() : e.event_as_RollbackFailed()->upgrade_id());
      Count(s, id, ok ? "rolled_back" : "rollback_failed", true, now);
      break;
    }
    default:
      break;
  }
}

}  // namespace noodle::proj
