#include "queries.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "noodle/engine/decider.h"
#include "noodle/envelope.h"
#include "noodle/protocol/query_result.h"
#include "snapshot_loader.h"

namespace noodle::engine {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

// What an encoded Reply takes besides its result and next: the root, the
// command id, two vtables, the empty ids and seqs, the result's length and
// alignment, padding (about 130 bytes; the rest is margin).
constexpr size_t kReplyOverhead = 256;
constexpr size_t kMinReplyBytes = 4096;

// A page of a typed answer (a QueryResult buffer), built entry by entry so
// that its size is known as it grows: an entry that would take the page past
// its budget is refused before it is added, and nothing larger than a page
// is ever built. FlatBuffers cannot take back what a builder holds, so each
// entry is measured first, built alone in a scratch builder.
class Page {
 public:
  explicit Page(size_t budget) : budget_(budget) {}
  FlatBufferBuilder& fbb() { return fbb_; }
  size_t items() const { return items_; }
  // The size of the entry Add refused last.
  size_t refused_bytes() const { return refused_bytes_; }

  // Adds build(fbb) to list when the page then still has room for it, for
  // closing the page and for `reserve` bytes more (the cursor the reply
  // names if the page stops after it); false, adding nothing, when not.
  template <typename T, typename Build>
  bool Add(std::vector<Offset<T>>* list, const Build& build, size_t reserve) {
    scratch_.Clear();
    scratch_.Finish(build(scratch_));
    const size_t bytes = scratch_.GetSize() + kEntrySlack;
    if (fbb_.GetSize() + slots_ + bytes + kClosing + reserve > budget_) {
      refused_bytes_ = bytes;
      return false;
    }
    list->push_back(build(fbb_));
    slots_ += sizeof(flatbuffers::uoffset_t);
    ++items_;
    return true;
  }

  template <typename T>
  std::string Finish(Offset<T> answer) {
    return query::FinishResult(fbb_, answer);
  }

 private:
  // Built in place, an entry takes at most what it took alone (its root
  // offset included) plus the alignment it lands on (< 8 bytes).
  static constexpr size_t kEntrySlack = 8;
  // What closes a page: the lists' lengths and alignment, the answer's table
  // and vtable, the QueryResult around it, the root offset.
  static constexpr size_t kClosing = 256;
  size_t budget_;
  FlatBufferBuilder fbb_{4096};
  FlatBufferBuilder scratch_{1024};
  size_t slots_ = 0;  // the offsets the lists' vectors will hold
  size_t items_ = 0;
  size_t refused_bytes_ = 0;
};

Reply Answer(std::string result, std::string next = "") {
  Reply r;
  r.accepted = true;
  r.result = std::move(result);
  r.next = std::move(next);
  return r;
}

// One entry that no page can hold: refused, naming it, rather than sent
// over the budget or left out in silence.
Reply TooLarge(const std::string& what, size_t bytes, size_t budget) {
  std::string m = what;
  m += " alone takes ";
  m += std::to_string(bytes);
  m += " bytes, more than a reply holds (";
  m += std::to_string(budget);
  m += " bytes, from EngineOptions::max_reply_bytes)";
  return Rejected(fb::RejectCode::Unavailable, std::move(m));
}

// An answer that is one entry (a component, an upgrade): whole, or refused.
template <typename Build>
Reply Single(const std::string& what, const Build& build, size_t budget) {
  FlatBufferBuilder fbb(1024);
  std::string result = query::FinishResult(fbb, build(fbb));
  if (result.size() > budget) return TooLarge(what, result.size(), budget);
  return Answer(std::move(result));
}

std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

// Whole-registry pages: components in name order, after q.after.
Reply RegistryPage(const proj::Registry& reg, const fb::QueryRegistry& q, size_t budget) {
  Page page(budget);
  const std::string after = Str(q.after());
  const size_t limit = q.limit() == 0 ? std::numeric_limits<size_t>::max() : q.limit();
  // A name that is not registered (any more) still places the page: the names after it.
  auto it = after.empty() ? reg.components.begin() : reg.components.upper_bound(after);
  std::vector<Offset<fb::ComponentInfo>> components;
  std::string last;
  for (; it != reg.components.end() && page.items() < limit; ++it) {
    const std::string& name = it->first;
    const proj::RegistryEntry& entry = it->second;
    const auto build = [&entry](FlatBufferBuilder& fbb) { return query::BuildComponent(fbb, entry); };
    if (!page.Add(&components, build, name.size())) {
      if (page.items() == 0) return TooLarge("component " + name, page.refused_bytes(), budget);
      break;
    }
    last = name;
  }
  auto& fbb = page.fbb();
  const auto list = fbb.CreateVector(components);
  return Answer(page.Finish(fb::CreateRegistryResult(fbb, reg.seq, list)),
                it == reg.components.end() ? "" : last);
}

// Status pages go through the lists in this order, each from where the
// cursor "<list>:<key of the last item sent>" says.
constexpr const char* kStatusSections[] = {"active", "recent", "points", "rollbacks", "agents"};
enum StatusSection : size_t { kActive, kRecent, kPoints, kRollbacks, kAgents };

struct StatusCursor {
  size_t section = kActive;   // where the page starts,
  std::string key;            // after this item of it ("": from its start)
  std::optional<proj::Id> id;  // the key, in the lists keyed by id
};

// False when `after` is not a position a status page named.
bool ParseStatusAfter(const std::string& after, StatusCursor* c) {
  if (after.empty()) return true;
  const size_t colon = after.find(':');
  const auto* end = std::end(kStatusSections);
  const auto* sec = std::find(std::begin(kStatusSections), end, after.substr(0, colon));
  if (colon == std::string::npos || sec == end) return false;
  c->section = static_cast<size_t>(sec - std::begin(kStatusSections));
  c->key = after.substr(colon + 1);
  if (c->section == kPoints || c->section == kAgents || c->key.empty()) return true;
  auto id = IdFromHex(c->key);
  if (!id) return false;
  c->id = proj::Id::From(&*id);
  return true;
}

// One status page: every list of the whole status, each holding its part.
class StatusPager {
 public:
  StatusPager(const proj::Status& s, const StatusCursor& c, size_t budget) : s_(s), c_(c), page_(budget) {}

  Reply Answer(size_t budget) {
    const bool complete = Active() && Recent() && Points() && Rollbacks() && Agents();
    if (!complete && page_.items() == 0) return TooLarge("status entry " + refused_, page_.refused_bytes(), budget);
    auto& fbb = page_.fbb();
    const auto active = fbb.CreateVector(active_), recent = fbb.CreateVector(recent_);
    const auto points = fbb.CreateVector(points_);
    const auto rollbacks = fbb.CreateVector(rollbacks_);
    const auto agents = fbb.CreateVector(agents_);
    const auto result = fb::CreateStatusResult(fbb, s_.seq, s_.history_count, active, recent, points, rollbacks, agents);
    return engine::Answer(page_.Finish(result), complete ? "" : last_);
  }

 private:
  // Whether the page starts in section or before it, and where in it.
  bool From(size_t section) const { return c_.section <= section; }
  bool At(size_t section) const { return c_.section == section && !c_.key.empty(); }

  // Adds one item of a section; false when the page is full.
  template <typename T, typename Build>
  bool Add(size_t section, std::vector<Offset<T>>* list, const std::string& key, const Build& build) {
    std::string cursor = kStatusSections[section];
    cursor += ':';
    cursor += key;
    if (!page_.Add(list, build, cursor.size())) {
      refused_ = std::move(cursor);
      return false;
    }
    last_ = std::move(cursor);
    return true;
  }

  bool Active() {
    if (!From(kActive)) return true;
    for (auto it = At(kActive) ? s_.upgrades.upper_bound(*c_.id) : s_.upgrades.begin(); it != s_.upgrades.end(); ++it) {
      const proj::Upgrade& u = it->second;
      if (!Add(kActive, &active_, it->first.hex(), [&u](FlatBufferBuilder& b) { return query::BuildUpgrade(b, u); })) {
        return false;
      }
    }
    return true;
  }
  bool Recent() {
    if (!From(kRecent)) return true;
    size_t i = 0;
    if (At(kRecent)) {
      // Gone from recent: so is everything older, and what is left is newer.
      for (size_t k = 0; k < s_.recent.size(); ++k) {
        if (s_.recent[k].id == *c_.id) i = k + 1;
      }
    }
    for (; i < s_.recent.size(); ++i) {
      const proj::UpgradeSummary& r = s_.recent[i];
      if (!Add(kRecent, &recent_, r.id.hex(), [&r](FlatBufferBuilder& b) { return query::BuildUpgrade(b, r); })) {
        return false;
      }
    }
    return true;
  }
  bool Points() {
    if (!From(kPoints)) return true;
    for (auto it = At(kPoints) ? s_.points.upper_bound(c_.key) : s_.points.begin(); it != s_.points.end(); ++it) {
      const std::string& name = it->first;
      const uint64_t seq = it->second;
      if (!Add(kPoints, &points_, name, [&](FlatBufferBuilder& b) { return query::BuildPoint(b, name, seq); })) {
        return false;
      }
    }
    return true;
  }
  bool Rollbacks() {
    if (!From(kRollbacks)) return true;
    const auto& ops = s_.rollbacks;
    for (auto it = At(kRollbacks) ? ops.upper_bound(*c_.id) : ops.begin(); it != ops.end(); ++it) {
      const proj::Id& id = it->first;
      const proj::RollbackOp& op = it->second;
      if (!Add(kRollbacks, &rollbacks_, id.hex(), [&](FlatBufferBuilder& b) { return query::BuildRollback(b, id, op); })) {
        return false;
      }
    }
    return true;
  }
  bool Agents() {
    for (auto it = At(kAgents) ? s_.agents.upper_bound(c_.key) : s_.agents.begin(); it != s_.agents.end(); ++it) {
      const std::string& name = it->first;
      const std::vector<std::string>& instances = it->second;
      if (!Add(kAgents, &agents_, name, [&](FlatBufferBuilder& b) { return query::BuildAgent(b, name, instances); })) {
        return false;
      }
    }
    return true;
  }

  const proj::Status& s_;
  const StatusCursor& c_;
  Page page_;
  std::vector<Offset<fb::UpgradeInfo>> active_, recent_;
  std::vector<Offset<fb::PointInfo>> points_;
  std::vector<Offset<fb::RollbackInfo>> rollbacks_;
  std::vector<Offset<fb::AgentInfo>> agents_;
  std::string last_, refused_;
};

Reply StatusPage(const proj::Status& s, const std::string& after, size_t budget) {
  StatusCursor cursor;
  if (!ParseStatusAfter(after, &cursor)) {
    return Rejected(fb::RejectCode::Invalid, "after: '" + after + "' is not a position a status page named");
  }
  return StatusPager(s, cursor, budget).Answer(budget);
}

// Statistics pages: the totals in every page, per_component in name order after `after`.
Reply StatisticsPage(const proj::Statistics& s, const std::string& after, size_t budget) {
  Page page(budget);
  auto& fbb = page.fbb();
  const auto outcomes = query::BuildOutcomes(fbb, s.overall);
  const auto durations = query::BuildDurations(fbb, s.overall);
  std::vector<Offset<fb::ComponentStatistics>> per_component;
  auto it = after.empty() ? s.per_component.begin() : s.per_component.upper_bound(after);
  std::string last;
  for (; it != s.per_component.end(); ++it) {
    const std::string& name = it->first;
    const proj::Tally& tally = it->second;
    const auto build = [&](FlatBufferBuilder& b) { return query::BuildComponentStatistics(b, name, tally); };
    if (!page.Add(&per_component, build, name.size())) {
      if (page.items() == 0) return TooLarge("statistics of " + name, page.refused_bytes(), budget);
      break;
    }
    last = name;
  }
  const auto list = fbb.CreateVector(per_component);
  const auto result = fb::CreateStatisticsResult(fbb, s.seq, s.open.size(), outcomes, durations, list);
  return Answer(page.Finish(result), it == s.per_component.end() ? "" : last);
}

// A stream's events, summarized (their bodies come from the replay endpoint
// by seq), read a chunk at a time; next is the from_version to go on with.
Reply EventsPage(const store::EventLog& log, const fb::QueryEvents& q, size_t budget) {
  constexpr size_t kChunk = 256;       // events held at once besides the page
  constexpr size_t kCursorBytes = 20;  // a uint64 in decimal
  const std::string_view stream = q.stream()->string_view();
  const size_t limit = std::min<uint32_t>(std::max<uint32_t>(1, q.limit()), 10'000);
  uint64_t from = std::max<uint64_t>(1, q.from_version());
  Page page(budget);
  std::vector<Offset<fb::EventSummary>> events;
  const auto finish = [&](std::string next) {
    auto& fbb = page.fbb();
    const auto list = fbb.CreateVector(events);
    return Answer(page.Finish(fb::CreateEventsResult(fbb, list)), std::move(next));
  };
  while (page.items() < limit) {  // bounded: each round adds a whole chunk or returns
    std::vector<store::StoredEvent> chunk;
    const size_t want = std::min(kChunk, limit - page.items());
    if (Status st = log.ReadStream(stream, from, want, &chunk); !st.ok()) {
      return Rejected(st.IsCorruption() ? fb::RejectCode::Internal : fb::RejectCode::Invalid, st.ToString());
    }
    for (const auto& e : chunk) {
      const auto* env = e.envelope();
      const auto build = [&](FlatBufferBuilder& b) {
        const auto actor = env->actor() != nullptr ? b.CreateString(env->actor()->string_view()) : 0;
        return fb::CreateEventSummary(b, e.seq, env->stream_version(), static_cast<uint8_t>(env->event_type()),
                                      env->time_ns(), actor, env->event_id());
      };
      if (!page.Add(&events, build, kCursorBytes)) {
        if (page.items() == 0) return TooLarge("an event summary", page.refused_bytes(), budget);
        return finish(std::to_string(env->stream_version()));
      }
      from = env->stream_version() + 1;
    }
    if (chunk.size() < want) return finish("");  // the stream's end
  }
  auto version = log.StreamVersion(stream);
  if (!version.ok()) return Rejected(fb::RejectCode::Internal, version.status().ToString());
  return finish(version.value() >= from ? std::to_string(from) : "");
}

// QueryStatus of one upgrade: in progress, or among the recent ended ones.
Reply OneUpgrade(const proj::Status& status, const proj::Id& id, size_t budget) {
  const std::string what = "upgrade " + id.hex();
  if (const auto* u = status.find(id)) {
    return Single(what, [u](FlatBufferBuilder& fbb) { return query::BuildUpgrade(fbb, *u); }, budget);
  }
  const auto& recent = status.recent;
  const auto ended = std::find_if(recent.rbegin(), recent.rend(), [&id](const auto& r) { return r.id == id; });
  if (ended == recent.rend()) return Rejected(fb::RejectCode::NotFound, "no upgrade " + id.hex() + " in the recent status");
  return Single(what, [&ended](FlatBufferBuilder& fbb) { return query::BuildUpgrade(fbb, *ended); }, budget);
}

// An upgrade's own point ("before-upgrade-<id>") is not kept by name in the
// status (one per upgrade would grow without bound): it is read from the
// upgrade's stream, where validation recorded it among its first events.
std::optional<uint64_t> UpgradePointSeq(const store::EventLog& log, const std::string& name) {
  constexpr std::string_view kPrefix = "before-upgrade-";
  constexpr size_t kFirstEvents = 16;  // requested, validated, the point: well within
  if (!name.starts_with(kPrefix)) return std::nullopt;
  const auto id = IdFromHex(std::string_view(name).substr(kPrefix.size()));
  if (!id) return std::nullopt;
  std::vector<store::StoredEvent> events;
  if (!log.ReadStream(UpgradeStream(proj::Id::From(&*id)), 1, kFirstEvents, &events).ok()) return std::nullopt;
  for (const auto& e : events) {
    const auto* p = e.envelope()->event_as_RollbackPointCreated();
    if (p != nullptr && p->name() != nullptr && p->name()->string_view() == name) return p->at_seq();
  }
  return std::nullopt;
}

}  // namespace

bool ResolveRollback(const store::EventLog& log, const State& state, const fb::RollBack& rb, RollbackTarget* target,
                     Reply* error) {
  const uint64_t last = log.LastSeq();
  if (rb.point() != nullptr && rb.point()->size() > 0) {
    const std::string name = rb.point()->str();
    auto it = state.status.points.find(name);
    const auto at = it != state.status.points.end() ? std::optional(it->second) : UpgradePointSeq(log, name);
    if (!at) {
      *error = Rejected(fb::RejectCode::NotFound, "no rollback point '" + name + "'");
      return false;
    }
    target->point = name;
    target->to_seq = *at;
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
                  const store::EventLog& log, size_t max_reply_bytes) {
  const size_t budget = std::max(max_reply_bytes, kMinReplyBytes) - kReplyOverhead;
  if (const auto* q = cmd.command_as_QueryStatus()) {
    if (q->upgrade_id() == nullptr) return StatusPage(state.status, Str(q->after()), budget);
    return OneUpgrade(state.status, proj::Id::From(q->upgrade_id()), budget);
  }
  if (const auto* q = cmd.command_as_QueryRegistry()) {
    if (q->component() == nullptr || q->component()->size() == 0) return RegistryPage(state.registry, *q, budget);
    const auto it = state.registry.components.find(q->component()->str());
    if (it == state.registry.components.end()) {
      return Rejected(fb::RejectCode::NotFound, "component " + q->component()->str() + " is not registered");
    }
    const proj::RegistryEntry& entry = it->second;
    return Single("component " + it->first,
                  [&entry](FlatBufferBuilder& fbb) { return query::BuildComponent(fbb, entry); }, budget);
  }
  if (const auto* q = cmd.command_as_QueryStatistics()) return StatisticsPage(stats, Str(q->after()), budget);
  if (const auto* q = cmd.command_as_QueryEvents()) return EventsPage(log, *q, budget);
  return Rejected(fb::RejectCode::Invalid, "unknown query");
}

}  // namespace noodle::engine
