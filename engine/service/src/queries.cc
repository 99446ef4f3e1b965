#include "queries.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>

#include "noodle/envelope.h"
#include "noodle/projections/codec.h"
#include "snapshot_loader.h"

namespace noodle::engine {
namespace {

using nlohmann::json;

// What an encoded Reply takes besides its result_json and next: the root,
// the command id, two vtables, the empty ids and seqs, string lengths and
// padding (about 120 bytes; the rest is margin).
constexpr size_t kReplyOverhead = 256;
constexpr size_t kMinReplyBytes = 4096;

// Invalid UTF-8 (which validation should never let in) is replaced, not
// thrown: an exception must not leave the writer thread.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A page's JSON text, written member by member and its listed members item
// by item, so that its size is known as it grows: an item that would take
// the page past its budget is refused before it is added, and nothing
// larger than a page is ever built. Members come out in name order, as
// nlohmann::json writes an object, so a page that holds everything is the
// same text the whole answer's dump() was.
class Page {
 public:
  explicit Page(size_t budget) : budget_(budget) {}
  // A page that is one JSON array (a stream's events), not an object.
  static Page Array(size_t budget) {
    Page p(budget);
    p.bare_ = true;
    p.List("", '[');
    return p;
  }

  // A member every page carries (counters, totals: small).
  void Fixed(const std::string& key, const json& value) { members_[key] = {Dump(value), 0, 0}; }
  // A listed member, '[' for an array or '{' for an object; empty at first.
  void List(const std::string& key, char open) { members_[key] = {std::string(1, open), open == '[' ? ']' : '}', 0}; }

  // Adds item (for an object member: Keyed(key, value)) to member when the
  // page then still has room for it and `reserve` bytes more (the cursor
  // the reply names if the page stops after it); false when it has not.
  bool Add(const std::string& member, const std::string& item, size_t reserve) {
    Member& m = members_.at(member);
    const size_t grows = item.size() + (m.count > 0 ? 1 : 0);
    if (Size() + grows + reserve > budget_) return false;
    if (m.count > 0) m.text += ',';
    m.text += item;
    ++m.count;
    ++items_;
    return true;
  }
  static std::string Keyed(const std::string& key, const std::string& value) {
    std::string out = Dump(json(key));
    out += ':';
    out += value;
    return out;
  }

  size_t items() const { return items_; }
  size_t Size() const {
    if (bare_) return members_.begin()->second.text.size() + 1;
    size_t n = 2 + (members_.empty() ? 0 : members_.size() - 1);
    for (const auto& [key, m] : members_) n += key.size() + 3 + m.text.size() + (m.close != 0 ? 1 : 0);
    return n;
  }
  std::string Text() const {
    std::string out;
    out.reserve(Size());
    if (!bare_) out += '{';
    for (const auto& [key, m] : members_) {
      if (!bare_) {
        if (out.size() > 1) out += ',';
        out += Dump(json(key));
        out += ':';
      }
      out += m.text;
      if (m.close != 0) out += m.close;
    }
    if (!bare_) out += '}';
    return out;
  }

 private:
  struct Member {
    std::string text;  // without the closing bracket
    char close = 0;    // 0: a fixed member
    size_t count = 0;
  };
  size_t budget_;
  bool bare_ = false;
  size_t items_ = 0;
  std::map<std::string, Member> members_;  // keys are plain names: "key": takes key.size() + 3
};

Reply Answer(std::string text, std::string next = "") {
  Reply r;
  r.accepted = true;
  r.result_json = std::move(text);
  r.next = std::move(next);
  return r;
}

// One entry that no page can hold: refused, naming it, rather than sent
// over the budget or left out in silence.
Reply TooLarge(const std::string& what, size_t bytes, size_t budget) {
  std::string m = what;
  m += " alone takes ";
  m += std::to_string(bytes);
  m += " bytes of JSON, more than a reply holds (";
  m += std::to_string(budget);
  m += " bytes, from EngineOptions::max_reply_bytes)";
  return Rejected(fb::RejectCode::Unavailable, std::move(m));
}

// An answer that is one entry (a component, an upgrade): whole, or refused.
Reply Single(const std::string& what, const json& j, size_t budget) {
  std::string text = Dump(j);
  if (text.size() > budget) return TooLarge(what, text.size(), budget);
  return Answer(std::move(text));
}

std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

// Whole-registry pages: components in name order, after q.after.
Reply RegistryPage(const proj::Registry& reg, const fb::QueryRegistry& q, size_t budget) {
  Page page(budget);
  page.Fixed("seq", reg.seq);
  page.List("components", '[');
  const std::string after = Str(q.after());
  const size_t limit = q.limit() == 0 ? std::numeric_limits<size_t>::max() : q.limit();
  // A name that is not registered (any more) still places the page: the names after it.
  auto it = after.empty() ? reg.components.begin() : reg.components.upper_bound(after);
  std::string last;
  for (; it != reg.components.end() && page.items() < limit; ++it) {
    const auto& [name, entry] = *it;
    json c = proj::ToJson(entry.spec);  // as proj::ToJson(Registry) writes each one
    c["registered_seq"] = entry.registered_seq;
    c["updated_seq"] = entry.updated_seq;
    const std::string text = Dump(c);
    if (!page.Add("components", text, name.size())) {
      if (page.items() == 0) {
        std::string what = "component ";
        what += name;
        return TooLarge(what, text.size(), budget);
      }
      break;
    }
    last = name;
  }
  return Answer(page.Text(), it == reg.components.end() ? "" : last);
}

// Status sections in page order. A status page holds every member of the
// whole status; its cursor is "<section>:<key of the last item sent>".
constexpr const char* kStatusSections[] = {"active", "recent", "points", "rollbacks", "agents"};

std::optional<proj::Id> IdKey(const std::string& hex) {
  auto id = IdFromHex(hex);
  if (!id) return std::nullopt;
  return proj::Id::From(&*id);
}

Reply BadAfter(const std::string& after) {
  std::string m = "after: '";
  m += after;
  m += "' is not a position a status page named";
  return Rejected(fb::RejectCode::Invalid, std::move(m));
}

Reply StatusPage(const proj::Status& s, const std::string& after, size_t budget) {
  size_t from = 0;  // the section the page starts in, after `key` in it ("": from its start)
  std::string key;
  if (!after.empty()) {
    const size_t colon = after.find(':');
    const auto* end = std::end(kStatusSections);
    const auto* sec = std::find(std::begin(kStatusSections), end, after.substr(0, colon));
    if (colon == std::string::npos || sec == end) return BadAfter(after);
    from = static_cast<size_t>(sec - std::begin(kStatusSections));
    key = after.substr(colon + 1);
  }
  std::optional<proj::Id> key_id;
  if (from != 2 && from != 4 && !key.empty() && !(key_id = IdKey(key))) return BadAfter(after);

  Page page(budget);
  page.Fixed("seq", s.seq);
  page.Fixed("history_count", s.history_count);
  for (const char* section : kStatusSections) {
    page.List(section, std::string_view(section) == "points" || std::string_view(section) == "agents" ? '{' : '[');
  }
  std::string last, refused;
  size_t refused_bytes = 0;
  // Adds one item of a section; false when the page is full.
  auto add = [&](size_t section, const std::string& item_key, const std::string& text) {
    std::string cursor = kStatusSections[section];
    cursor += ':';
    cursor += item_key;
    if (!page.Add(kStatusSections[section], text, cursor.size())) {
      refused = std::move(cursor);
      refused_bytes = text.size();
      return false;
    }
    last = std::move(cursor);
    return true;
  };
  auto fill = [&]() {
    if (from <= 0) {
      auto it = from == 0 && key_id ? s.upgrades.upper_bound(*key_id) : s.upgrades.begin();
      for (; it != s.upgrades.end(); ++it) {
        if (!add(0, it->first.hex(), Dump(proj::ToJson(it->second)))) return false;
      }
    }
    if (from <= 1) {
      size_t i = 0;
      if (from == 1 && key_id) {
        // Gone from recent: so is everything older, and what is left is newer.
        for (size_t k = 0; k < s.recent.size(); ++k) {
          if (s.recent[k].id == *key_id) i = k + 1;
        }
      }
      for (; i < s.recent.size(); ++i) {
        if (!add(1, s.recent[i].id.hex(), Dump(proj::ToJson(s.recent[i])))) return false;
      }
    }
    if (from <= 2) {
      auto it = from == 2 && !key.empty() ? s.points.upper_bound(key) : s.points.begin();
      for (; it != s.points.end(); ++it) {
        if (!add(2, it->first, Page::Keyed(it->first, Dump(json(it->second))))) return false;
      }
    }
    if (from <= 3) {
      auto it = from == 3 && key_id ? s.rollbacks.upper_bound(*key_id) : s.rollbacks.begin();
      for (; it != s.rollbacks.end(); ++it) {
        const auto& op = it->second;  // as proj::ToJson(Status) writes each one
        const json j = {{"id", it->first.hex()}, {"point", op.point}, {"to_seq", op.to_seq}, {"failed", op.failed}};
        if (!add(3, it->first.hex(), Dump(j))) return false;
      }
    }
    auto it = from == 4 && !key.empty() ? s.agents.upper_bound(key) : s.agents.begin();
    for (; it != s.agents.end(); ++it) {
      if (!add(4, it->first, Page::Keyed(it->first, Dump(json(it->second))))) return false;
    }
    return true;
  };
  if (fill()) return Answer(page.Text());
  if (page.items() == 0) {
    std::string what = "status entry ";
    what += refused;
    return TooLarge(what, refused_bytes, budget);
  }
  return Answer(page.Text(), last);
}

// Statistics pages: the totals in every page, per_component in name order after `after`.
Reply StatisticsPage(const proj::Statistics& s, const std::string& after, size_t budget) {
  proj::Statistics totals;  // no per_component: its JSON is every other member
  totals.seq = s.seq;
  totals.overall = s.overall;
  json top = proj::ToJson(totals);
  top["in_flight"] = s.open.size();
  Page page(budget);
  for (const auto& [k, v] : top.items()) {
    if (k != "per_component") page.Fixed(k, v);
  }
  page.List("per_component", '{');
  auto it = after.empty() ? s.per_component.begin() : s.per_component.upper_bound(after);
  std::string last;
  for (; it != s.per_component.end(); ++it) {
    proj::Statistics one;  // its JSON writes the component's tally as the whole one does
    one.per_component.emplace(it->first, it->second);
    const std::string text = Page::Keyed(it->first, Dump(proj::ToJson(one)["per_component"][it->first]));
    if (!page.Add("per_component", text, it->first.size())) {
      if (page.items() == 0) {
        std::string what = "statistics of ";
        what += it->first;
        return TooLarge(what, text.size(), budget);
      }
      return Answer(page.Text(), last);
    }
    last = it->first;
  }
  return Answer(page.Text());
}

// A stream's events, summarized (their bodies come from the replay endpoint
// by seq), read a chunk at a time; next is the from_version to go on with.
Reply EventsPage(const store::EventLog& log, const fb::QueryEvents& q, size_t budget) {
  constexpr size_t kChunk = 256;       // events held at once besides the page's text
  constexpr size_t kCursorBytes = 20;  // a uint64 in decimal
  const std::string_view stream = q.stream()->string_view();
  const size_t limit = std::min<uint32_t>(std::max<uint32_t>(1, q.limit()), 10'000);
  uint64_t from = std::max<uint64_t>(1, q.from_version());
  Page page = Page::Array(budget);
  while (page.items() < limit) {  // bounded: each round adds a whole chunk or returns
    std::vector<store::StoredEvent> events;
    const size_t want = std::min(kChunk, limit - page.items());
    if (Status st = log.ReadStream(stream, from, want, &events); !st.ok()) {
      return Rejected(st.IsCorruption() ? fb::RejectCode::Internal : fb::RejectCode::Invalid, st.ToString());
    }
    for (const auto& e : events) {
      const auto* env = e.envelope();
      const json j = {{"seq", e.seq}, {"stream_version", env->stream_version()},
                      {"type", fb::EnumNameEvent(env->event_type())}, {"time_ns", env->time_ns()},
                      {"actor", env->actor() ? env->actor()->str() : ""}, {"event_id", IdToHex(*env->event_id())}};
      const std::string text = Dump(j);
      if (!page.Add("", text, kCursorBytes)) {
        if (page.items() == 0) return TooLarge("an event summary", text.size(), budget);
        return Answer(page.Text(), std::to_string(env->stream_version()));
      }
      from = env->stream_version() + 1;
    }
    if (events.size() < want) return Answer(page.Text());  // the stream's end
  }
  auto version = log.StreamVersion(stream);
  if (!version.ok()) return Rejected(fb::RejectCode::Internal, version.status().ToString());
  return Answer(page.Text(), version.value() >= from ? std::to_string(from) : "");
}

}  // namespace

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
                  const store::EventLog& log, size_t max_reply_bytes) {
  const size_t budget = std::max(max_reply_bytes, kMinReplyBytes) - kReplyOverhead;
  if (const auto* q = cmd.command_as_QueryStatus()) {
    if (q->upgrade_id() == nullptr) return StatusPage(state.status, Str(q->after()), budget);
    const proj::Id id = proj::Id::From(q->upgrade_id());
    std::string what = "upgrade ";
    what += id.hex();
    if (const auto* u = state.status.find(id)) return Single(what, proj::ToJson(*u), budget);
    const auto& recent = state.status.recent;
    const auto ended = std::find_if(recent.rbegin(), recent.rend(), [&id](const auto& r) { return r.id == id; });
    if (ended != recent.rend()) return Single(what, proj::ToJson(*ended), budget);
    return Rejected(fb::RejectCode::NotFound, "no upgrade " + id.hex() + " in the recent status");
  }
  if (const auto* q = cmd.command_as_QueryRegistry()) {
    if (q->component() == nullptr || q->component()->size() == 0) return RegistryPage(state.registry, *q, budget);
    const proj::Component* c = state.registry.find(q->component()->str());
    if (c == nullptr) return Rejected(fb::RejectCode::NotFound, "component " + q->component()->str() + " is not registered");
    return Single("component " + c->name, proj::ToJson(*c), budget);
  }
  if (const auto* q = cmd.command_as_QueryStatistics()) return StatisticsPage(stats, Str(q->after()), budget);
  if (const auto* q = cmd.command_as_QueryEvents()) return EventsPage(log, *q, budget);
  return Rejected(fb::RejectCode::Invalid, "unknown query");
}

}  // namespace noodle::engine
