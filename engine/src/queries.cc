#include "queries.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "noodle/envelope.h"
#include "noodle/projections/codec.h"
#include "snapshot_loader.h"

namespace noodle::engine {

bool ResolveRollback(const store::EventLog& log, const State& state, const fb::RollBack& rb, RollbackTarget* target,
                     Reply* error) {
  const uint64_t last = log.LastSeq();
  if (rb.point() != nullptr && rb.point()->size() > 0) {
    auto it = state.status.points.find(rb.point()->str());
    if (it == state.status.points.end()) {
      *error = Rejected(fb::RejectCode::NotFound, "no rollback point '" + rb.point()->str() + "'");
      return false;
    }
    target->point = it->first;
    target->to_seq = it->second;
  } else if (rb.to_seq() > 0) {
    target->to_seq = rb.to_seq();
  } else if (rb.to_time_ns() > 0) {
    // Event times only grow (the engine stamps them), so bisect on them.
    uint64_t lo = 1, hi = last, found = 0;
    while (lo <= hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      auto e = log.Read(mid);
      if (!e.ok()) {
        *error = Rejected(fb::RejectCode::Internal, e.status().ToString());
        return false;
      }
      if (e->envelope()->time_ns() <= rb.to_time_ns()) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found == 0) {
      *error = Rejected(fb::RejectCode::NotFound, "no event at or before that time");
      return false;
    }
    target->to_seq = found;
  } else {
    *error = Rejected(fb::RejectCode::Invalid, "rollback needs a point, a seq or a time");
    return false;
  }
  if (target->to_seq > last) {
    *error = Rejected(fb::RejectCode::Invalid,
                      "seq " + std::to_string(target->to_seq) + " is beyond the log's end (" + std::to_string(last) + ")");
    return false;
  }
  auto at = StateAt(log, target->to_seq);
  if (!at.ok()) {
    *error = Rejected(fb::RejectCode::Internal, at.status().ToString());
    return false;
  }
  target->registry = std::move(at->registry);
  return true;
}

Reply AnswerQuery(const fb::CommandEnvelope& cmd, const State& state, const proj::Statistics& stats,
                  const store::EventLog& log) {
  Reply r;
  r.accepted = true;
  nlohmann::json j;
  if (const auto* q = cmd.command_as_QueryStatus()) {
    if (q->upgrade_id() == nullptr) {
      j = proj::ToJson(state.status);
    } else {
      const proj::Id id = proj::Id::From(q->upgrade_id());
      const auto& recent = state.status.recent;
      const auto ended = std::find_if(recent.rbegin(), recent.rend(), [&id](const auto& r) { return r.id == id; });
      if (const auto* u = state.status.find(id)) {
        j = proj::ToJson(*u);
      } else if (ended != recent.rend()) {
        j = proj::ToJson(*ended);
      } else {
        return Rejected(fb::RejectCode::NotFound, "no upgrade " + id.hex() + " in the recent status");
      }
    }
  } else if (const auto* q = cmd.command_as_QueryRegistry()) {
    if (q->component() != nullptr && q->component()->size() > 0) {
      const proj::Component* c = state.registry.find(q->component()->str());
      if (c == nullptr) return Rejected(fb::RejectCode::NotFound, "component " + q->component()->str() + " is not registered");
      j = proj::ToJson(*c);
    } else {
      j = proj::ToJson(state.registry);
    }
  } else if (cmd.command_type() == fb::Command::QueryStatistics) {
    j = proj::ToJson(stats);
  } else if (const auto* q = cmd.command_as_QueryEvents()) {
    // A stream's events, summarized; their full bodies come from the replay endpoint by seq.
    std::vector<store::StoredEvent> events;
    const size_t limit = std::min<uint32_t>(std::max<uint32_t>(1, q->limit()), 10'000);
    if (Status s = log.ReadStream(q->stream()->string_view(), std::max<uint64_t>(1, q->from_version()), limit, &events);
        !s.ok()) {
      return Rejected(s.IsCorruption() ? fb::RejectCode::Internal : fb::RejectCode::Invalid, s.ToString());
    }
    j = nlohmann::json::array();
    for (const auto& e : events) {
      const auto* env = e.envelope();
      j.push_back({{"seq", e.seq}, {"stream_version", env->stream_version()}, {"type", fb::EnumNameEvent(env->event_type())},
                   {"time_ns", env->time_ns()}, {"actor", env->actor() ? env->actor()->str() : ""},
                   {"event_id", IdToHex(*env->event_id())}});
    }
  } else {
    return Rejected(fb::RejectCode::Invalid, "unknown query");
  }
  r.result_json = j.dump();
  return r;
}

}  // namespace noodle::engine
