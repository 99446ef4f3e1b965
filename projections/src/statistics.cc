#include "noodle/projections/statistics.h"

#include <algorithm>

namespace noodle::proj {
namespace {

void Count(Statistics& s, const Id& id, const char* outcome) {
  auto it = s.open.find(id);
  if (it == s.open.end()) return;
  ++s.overall.outcomes[outcome];
  ++s.per_component[it->second.component].outcomes[outcome];
}

void Finish(Statistics& s, const Id& id, int64_t now) {
  auto it = s.open.find(id);
  if (it == s.open.end()) return;
  const int64_t d = std::max<int64_t>(0, now - it->second.requested_ns);
  s.overall.durations_ns.push_back(d);
  s.per_component[it->second.component].durations_ns.push_back(d);
  s.open.erase(it);
}

}  // namespace

DurationSummary Summarize(const Tally& t) {
  DurationSummary d;
  d.count = t.durations_ns.size();
  if (d.count == 0) return d;
  std::vector<int64_t> v = t.durations_ns;
  std::sort(v.begin(), v.end());
  auto rank = [&v](double p) { return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size() + 0.999999) - 1)]; };
  d.min_ns = v.front();
  d.median_ns = rank(0.5);
  d.p95_ns = rank(0.95);
  d.max_ns = v.back();
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
      Count(s, id, "completed");
      Finish(s, id, now);
      break;
    }
    case fb::Event::UpgradeRejected: {
      const Id id = Id::From(e.event_as_UpgradeRejected()->upgrade_id());
      Count(s, id, "rejected");
      Finish(s, id, now);
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
      Count(s, id, outcome);
      if (!rollback) Finish(s, id, now);
      break;
    }
    case fb::Event::RollbackCompleted:
    case fb::Event::RollbackFailed: {
      const bool ok = e.event_type() == fb::Event::RollbackCompleted;
      const Id id = Id::From(ok ? e.event_as_RollbackCompleted()->upgrade_id() : e.event_as_RollbackFailed()->upgrade_id());
      Count(s, id, ok ? "rolled_back" : "rollback_failed");
      Finish(s, id, now);
      break;
    }
    default:
      break;
  }
}

}  // namespace noodle::proj
