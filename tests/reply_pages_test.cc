// Replies within a size budget: listings (registry, a stream's events,
// status, statistics) come in pages no larger than EngineOptions::
// max_reply_bytes, encoded, each a whole typed answer; following `next`
// yields every entry once, in order. On a real engine over RocksDB, and through a real daemon with
// upgradectl and the Python client.
#define BOOST_TEST_MODULE reply_pages
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "noodle/protocol/reply.h"
#include "noodle/protocol/query_result.h"
#include "support/daemon_process.h"
#include "support/test_support.h"
#include "support/typed_answers.h"

using namespace noodle;
using nlohmann::json;

namespace {

// The whole encoded Reply (EncodeReply: what the bus sends) stays within
// the budget: no overhead on top of it.
constexpr size_t kBudget = 64 * 1024;

std::string Name(const char* prefix, size_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%05zu", prefix, i);
  return buf;
}

// A component whose JSON takes about entries * (value_bytes + 10) bytes more than a bare one.
proj::Component Comp(const std::string& name, size_t entries = 0, size_t value_bytes = 0) {
  proj::Component c;
  c.name = name;
  c.version = "1.0.0";
  c.hooks["swap"] = proj::Hook{{"true"}, false, 5000};
  for (size_t i = 0; i < entries; ++i) c.metadata[Name("key", i)] = std::string(value_bytes, 'v');
  return c;
}

struct Rig {
  test::TempDir dir;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<engine::Engine> engine;  // no executor: started upgrades stay running

  explicit Rig(size_t max_reply_bytes) {
    BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok());
    engine::EngineOptions o;
    o.max_reply_bytes = max_reply_bytes;
    Status s = engine::Engine::Open(log.get(), nullptr, nullptr, o, &engine);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  // Submits every command at once (they share rounds); returns how many were accepted.
  size_t All(std::vector<std::string> commands) {
    std::vector<std::future<engine::Reply>> replies;
    for (auto& c : commands) replies.push_back(engine->Submit(std::move(c)));
    size_t accepted = 0;
    for (auto& f : replies) accepted += f.get().accepted ? 1 : 0;
    return accepted;
  }
  engine::Reply Query(std::string command) { return engine->Execute(std::move(command)); }
};

struct Pages {
  std::vector<engine::Reply> replies;  // each page, accepted
  std::vector<size_t> wire;            // its encoded size
  std::vector<std::string> nexts;
};

// Follows next from the first page until it is empty; every page must be
// accepted, encode within budget and decode to the same answer.
Pages Follow(Rig& rig, size_t budget, const std::function<std::string(const std::string&)>& query) {
  Pages p;
  std::string after;
  for (int n = 0; n < 10'000; ++n) {
    engine::Reply r = rig.Query(query(after));
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    const std::string wire = engine::EncodeReply(proj::Id{7, 7}, r);
    BOOST_TEST(wire.size() <= budget, "page " << n << " encodes to " << wire.size() << " bytes");
    engine::Reply back;
    BOOST_REQUIRE(engine::DecodeReply(wire, &back).ok());
    BOOST_TEST(back.next == r.next);
    BOOST_TEST(back.result == r.result);
    p.wire.push_back(wire.size());
    p.nexts.push_back(r.next);
    p.replies.push_back(std::move(r));
    if (p.nexts.back().empty()) return p;
    BOOST_REQUIRE(p.nexts.back() != after);
    after = p.nexts.back();
  }
  BOOST_FAIL("no last page in 10,000");
  return p;
}

std::vector<std::string> ComponentNames(const fb::RegistryResult& page) {
  std::vector<std::string> names;
  if (page.components() == nullptr) return names;
  for (const auto* c : *page.components()) names.push_back(c->spec()->name()->str());
  return names;
}
std::vector<std::string> ComponentNames(const engine::Reply& r) {
  return ComponentNames(test::Answer<fb::RegistryResult>(r));
}
// As upgradectl --json and the Python client print a registry (the schema's JSON shape).
std::vector<std::string> ComponentNames(const json& registry) {
  std::vector<std::string> names;
  for (const auto& c : registry["components"]) names.push_back(c["spec"]["name"]);
  return names;
}

// What one component takes alone in a page (its table, strings, vtable).
size_t EntryBytes(const proj::RegistryEntry& e) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(engine::query::BuildComponent(fbb, e));
  return fbb.GetSize();
}

template <typename T, typename Key>
void Append(std::vector<std::string>* out, const flatbuffers::Vector<flatbuffers::Offset<T>>* list, Key key) {
  BOOST_REQUIRE(list != nullptr);  // every page holds every list, maybe empty
  for (const auto* item : *list) out->push_back(key(*item));
}

}  // namespace

BOOST_AUTO_TEST_CASE(registry_pages_stay_within_the_budget_and_hold_every_component_once_in_order) {
  Rig rig(kBudget);
  std::vector<std::string> commands, expected;
  for (size_t i = 0; i < 3000; ++i) {
    expected.push_back(Name("svc", i));
    commands.push_back(engine::cmd::Register(Comp(expected.back(), 4, 200)));
  }
  BOOST_REQUIRE(rig.All(std::move(commands)) == 3000u);

  const Pages p = Follow(rig, kBudget, [](const std::string& after) { return engine::cmd::QueryRegistryPage(after); });
  BOOST_TEST_MESSAGE(p.replies.size() << " pages");
  BOOST_TEST(p.replies.size() > 20u);  // ~3 MB of components in 64 KB pages
  size_t largest = 0;
  for (const auto& [name, entry] : rig.engine->Current().registry.components) largest = std::max(largest, EntryBytes(entry));
  std::vector<std::string> got;
  for (size_t i = 0; i < p.replies.size(); ++i) {
    const auto& page = test::Answer<fb::RegistryResult>(p.replies[i]);
    BOOST_TEST(page.seq() == rig.engine->Current().registry.seq);  // every page a whole answer
    const auto names = ComponentNames(page);
    BOOST_REQUIRE(!names.empty());
    if (i + 1 < p.replies.size()) {
      BOOST_TEST(p.nexts[i] == names.back());  // where the next page starts
      // Pages stop because the budget is reached, not sooner: the next entry would not have fit.
      BOOST_TEST(p.wire[i] + largest + 512 > kBudget, "page " << i << ": " << p.wire[i] << " bytes");
    }
    got.insert(got.end(), names.begin(), names.end());
  }
  BOOST_TEST(got == expected);  // disjoint, complete, in order

  // A position that names no component continues from the next name.
  const auto first_after = [&](const std::string& after) {
    const engine::Reply r = rig.Query(engine::cmd::QueryRegistryPage(after));
    const auto names = ComponentNames(r);
    return names.empty() ? std::string() : names.front();
  };
  BOOST_TEST(first_after("svc-01000x") == "svc-01001");
  BOOST_TEST(first_after("a") == "svc-00000");
  BOOST_REQUIRE(rig.Query(engine::cmd::Deregister("svc-01500", "gone between pages")).accepted);
  BOOST_TEST(first_after("svc-01500") == "svc-01501");
  const engine::Reply beyond = rig.Query(engine::cmd::QueryRegistryPage("zzz"));
  BOOST_TEST(ComponentNames(beyond).empty());
  BOOST_TEST(beyond.next.empty());

  // limit: at most that many; next when more follow.
  const engine::Reply seven = rig.Query(engine::cmd::QueryRegistryPage("svc-02000", 7));
  BOOST_TEST(ComponentNames(seven).size() == 7u);
  BOOST_TEST(seven.next == "svc-02007");
  const engine::Reply tail = rig.Query(engine::cmd::QueryRegistryPage("svc-02990", 100));
  BOOST_TEST(ComponentNames(tail).size() == 9u);
  BOOST_TEST(tail.next.empty());
  // One component: whole, with no next.
  const engine::Reply one = rig.Query(engine::cmd::QueryRegistry("svc-00042"));
  BOOST_TEST(test::Answer<fb::ComponentInfo>(one).spec()->name()->str() == "svc-00042");
  BOOST_TEST(one.next.empty());
}

BOOST_AUTO_TEST_CASE(event_pages_stop_at_the_budget_and_name_the_version_to_go_on_from) {
  Rig rig(kBudget);
  std::vector<std::string> commands;
  for (int i = 0; i < 1500; ++i) {  // 3,000 events on one stream
    commands.push_back(engine::cmd::Register(Comp("churn")));
    commands.push_back(engine::cmd::Deregister("churn", "again"));
  }
  BOOST_REQUIRE(rig.All(std::move(commands)) == 3000u);
  const std::string stream = "component/churn";
  const Pages p = Follow(rig, kBudget, [&](const std::string& after) {
    return engine::cmd::QueryEvents(stream, after.empty() ? 1 : std::stoull(after), 10'000);
  });
  BOOST_TEST_MESSAGE(p.replies.size() << " pages");
  BOOST_TEST(p.replies.size() > 2u);  // ~70 bytes a summary: 3,000 do not fit 64 KB
  uint64_t expect = 1;
  for (size_t i = 0; i < p.replies.size(); ++i) {
    const auto* events = test::Answer<fb::EventsResult>(p.replies[i]).events();
    BOOST_REQUIRE(test::SizeOf(events) > 0u);
    for (const auto* e : *events) {
      BOOST_REQUIRE(e->stream_version() == expect);
      // The type as the Event union's tag: registrations and deregistrations alternate.
      const auto type = static_cast<fb::Event>(e->event_type());
      BOOST_REQUIRE((type == (expect % 2 == 1 ? fb::Event::ComponentRegistered : fb::Event::ComponentDeregistered)));
      ++expect;
    }
    if (i + 1 < p.replies.size()) {
      BOOST_TEST(p.nexts[i] == std::to_string(expect));
      BOOST_TEST(p.wire[i] + 1024 > kBudget);  // full: a summary is far below 512 bytes
    }
  }
  BOOST_TEST(expect == 3001u);  // every event once, in order

  // The count limit: next when the stream goes on, none at its end.
  const auto page = [&](uint64_t from, uint32_t limit) { return rig.Query(engine::cmd::QueryEvents(stream, from, limit)); };
  const auto count = [](const engine::Reply& r) { return test::SizeOf(test::Answer<fb::EventsResult>(r).events()); };
  const engine::Reply fifty = page(1, 50);
  BOOST_TEST(count(fifty) == 50u);
  BOOST_TEST(fifty.next == "51");
  BOOST_TEST(page(2990, 10).next == "3000");
  const engine::Reply end = page(2991, 10);
  BOOST_TEST(count(end) == 10u);
  BOOST_TEST(end.next.empty());
  const engine::Reply past = page(5000, 10);
  BOOST_TEST(count(past) == 0u);
  BOOST_TEST(past.next.empty());
}

BOOST_AUTO_TEST_CASE(status_and_statistics_pages_merge_into_the_whole_answer) {
  constexpr size_t kSmall = 16 * 1024;
  Rig rig(kSmall);
  std::vector<std::string> commands;
  for (size_t i = 0; i < 300; ++i) commands.push_back(engine::cmd::Register(Comp(Name("svc", i))));
  for (size_t i = 0; i < 30; ++i) commands.push_back(engine::cmd::Register(Comp(Name("run", i))));
  for (size_t i = 0; i < 1000; ++i) commands.push_back(engine::cmd::Point(Name("point", i)));
  BOOST_REQUIRE(rig.All(std::move(commands)) == 1330u);
  commands.clear();
  for (size_t i = 0; i < 300; ++i) {  // refused (a major version): recent and per-component statistics
    engine::cmd::UpgradeRequest r;
    r.component = Name("svc", i);
    r.target_version = "2.0.0";
    commands.push_back(engine::cmd::Upgrade(r));
  }
  for (size_t i = 0; i < 30; ++i) {  // running (no executor finishes them): active upgrades
    engine::cmd::UpgradeRequest r;
    r.component = Name("run", i);
    r.target_version = "1.1.0";
    commands.push_back(engine::cmd::Upgrade(r));
  }
  BOOST_REQUIRE(rig.All(std::move(commands)) == 30u);

  const proj::Status status = rig.engine->Current().status;
  BOOST_REQUIRE(status.upgrades.size() == 30u);
  BOOST_REQUIRE(status.recent.size() == 256u);
  const Pages sp = Follow(rig, kSmall, [](const std::string& after) { return engine::cmd::QueryStatusPage(after); });
  BOOST_TEST_MESSAGE(sp.replies.size() << " status pages");
  BOOST_TEST(sp.replies.size() > 3u);
  std::vector<std::string> active, recent, points, rollbacks, agents;
  const auto id = [](const auto& item) { return IdToHex(*item.id()); };
  for (const auto& reply : sp.replies) {
    const auto& page = test::Answer<fb::StatusResult>(reply);
    BOOST_TEST(page.seq() == status.seq);  // the whole answer's counters on every page
    BOOST_TEST(page.history_count() == status.history_count);
    Append(&active, page.active(), id);
    Append(&recent, page.recent(), id);
    Append(&points, page.points(), [](const fb::PointInfo& p) { return p.name()->str() + "@" + std::to_string(p.seq()); });
    Append(&rollbacks, page.rollbacks(), id);
    Append(&agents, page.agents(), [](const fb::AgentInfo& a) { return a.name()->str(); });
  }
  // Every part once, in order.
  std::vector<std::string> want_active, want_recent, want_points;
  for (const auto& [key, u] : status.upgrades) want_active.push_back(key.hex());
  for (const auto& r : status.recent) want_recent.push_back(r.id.hex());
  for (const auto& [name, seq] : status.points) want_points.push_back(name + "@" + std::to_string(seq));
  BOOST_TEST(active == want_active);
  BOOST_TEST(recent == want_recent);
  BOOST_TEST(points == want_points);
  BOOST_TEST(rollbacks.empty());
  BOOST_TEST(agents.empty());

  const proj::Statistics stats = rig.engine->Statistics();
  BOOST_REQUIRE(stats.per_component.size() == 300u);  // the ended ones
  const Pages tp = Follow(rig, kSmall, [](const std::string& after) { return engine::cmd::QueryStatisticsPage(after); });
  BOOST_TEST_MESSAGE(tp.replies.size() << " statistics pages");
  BOOST_TEST(tp.replies.size() > 1u);
  std::vector<std::string> per_component, want_components;
  for (const auto& reply : tp.replies) {
    const auto& page = test::Answer<fb::StatisticsResult>(reply);
    BOOST_TEST(page.in_flight() == stats.open.size());  // the totals on every page
    BOOST_TEST(test::CountOf(page.outcomes(), fb::Outcome::Rejected) == 300u);
    BOOST_TEST(page.durations()->count() == 300u);
    Append(&per_component, page.per_component(), [](const fb::ComponentStatistics& c) {
      BOOST_TEST(test::CountOf(c.outcomes(), fb::Outcome::Rejected) == 1u);
      return c.component()->str();
    });
  }
  for (const auto& [name, tally] : stats.per_component) want_components.push_back(name);
  BOOST_TEST(per_component == want_components);

  // A status position whose entry is gone goes on with what is still there.
  std::string gone = "recent:";
  gone += proj::Id{1, 1}.hex();
  const engine::Reply again = rig.Query(engine::cmd::QueryStatusPage(gone));
  const auto& page = test::Answer<fb::StatusResult>(again);
  BOOST_TEST(test::SizeOf(page.active()) == 0u);
  BOOST_REQUIRE(test::SizeOf(page.recent()) > 0u);
  BOOST_TEST(IdToHex(*page.recent()->Get(0)->id()) == status.recent[0].id.hex());
  for (const char* bad : {"nowhere:x", "active:not-hex", "points"}) {
    const engine::Reply r = rig.Query(engine::cmd::QueryStatusPage(bad));
    BOOST_TEST(!r.accepted, bad);
    BOOST_TEST((r.code == fb::RejectCode::Invalid), bad);
  }
}

BOOST_AUTO_TEST_CASE(a_listing_that_fits_is_one_page_holding_all_of_it) {
  Rig rig(engine::EngineOptions{}.max_reply_bytes);
  std::vector<std::string> commands = {engine::cmd::Register(Comp("alpha", 3, 10)), engine::cmd::Register(Comp("beta")),
                                       engine::cmd::Point("before")};
  BOOST_REQUIRE(rig.All(std::move(commands)) == 3u);
  engine::cmd::UpgradeRequest r;
  r.component = "beta";
  r.target_version = "1.1.0";
  BOOST_REQUIRE(rig.Query(engine::cmd::Upgrade(r)).accepted);
  const engine::Reply registry = rig.Query(engine::cmd::QueryRegistry());
  BOOST_TEST(ComponentNames(registry) == (std::vector<std::string>{"alpha", "beta"}));
  BOOST_TEST(registry.next.empty());
  const engine::Reply status = rig.Query(engine::cmd::QueryStatus());
  const auto& s = test::Answer<fb::StatusResult>(status);
  BOOST_TEST(test::SizeOf(s.active()) == 1u);
  BOOST_TEST(test::SizeOf(s.points()) == 1u);
  BOOST_TEST(status.next.empty());
  const engine::Reply stats = rig.Query(engine::cmd::QueryStatistics());
  BOOST_TEST(test::Answer<fb::StatisticsResult>(stats).in_flight() == 1u);
  BOOST_TEST(stats.next.empty());
}

BOOST_AUTO_TEST_CASE(an_entry_larger_than_any_page_is_refused_by_name_and_the_listing_goes_on_past_it) {
  Rig rig(1000);  // below the floor: 4 KiB
  std::vector<std::string> commands = {engine::cmd::Register(Comp("a-small")),
                                       engine::cmd::Register(Comp("b-huge", 8, 1000)),
                                       engine::cmd::Register(Comp("c-small"))};
  BOOST_REQUIRE(rig.All(std::move(commands)) == 3u);
  const engine::Reply first = rig.Query(engine::cmd::QueryRegistryPage(""));
  BOOST_TEST(ComponentNames(first) == std::vector<std::string>{"a-small"});
  BOOST_TEST(first.next == "a-small");
  const engine::Reply second = rig.Query(engine::cmd::QueryRegistryPage(first.next));
  BOOST_TEST(!second.accepted);
  BOOST_TEST((second.code == fb::RejectCode::Unavailable));
  BOOST_TEST(second.message.find("b-huge") != std::string::npos, second.message);
  const engine::Reply single = rig.Query(engine::cmd::QueryRegistry("b-huge"));
  BOOST_TEST((single.code == fb::RejectCode::Unavailable));
  const engine::Reply rest = rig.Query(engine::cmd::QueryRegistryPage("b-huge"));
  BOOST_TEST(ComponentNames(rest) == std::vector<std::string>{"c-small"});
  BOOST_TEST(rest.next.empty());
}

BOOST_AUTO_TEST_CASE(upgradectl_and_the_python_client_list_every_component_of_a_daemon_page_by_page) {
  test::TempDir dir;
  auto d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"));
  std::unique_ptr<bus::CommandClient> client;
  bus::CommandClientOptions co;
  co.timeout_ms = 30'000;
  BOOST_REQUIRE(bus::CommandClient::Connect(d.commands, co, &client).ok());
  std::vector<std::string> expected;
  for (size_t i = 0; i < 40; ++i) {
    expected.push_back(Name("big", i));
    auto bytes = client->Call(engine::cmd::Register(Comp(expected.back(), 64, 1000)));
    BOOST_REQUIRE(bytes.ok());
    engine::Reply r;
    BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
  }
  // The daemon pages: the first page does not hold them all.
  auto bytes = client->Call(engine::cmd::QueryRegistryPage(""));
  BOOST_REQUIRE(bytes.ok());
  BOOST_TEST(bytes.value().size() <= engine::EngineOptions{}.max_reply_bytes);
  engine::Reply first;
  BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &first).ok());
  BOOST_TEST(!first.next.empty());
  BOOST_TEST(ComponentNames(first).size() < 40u);

  std::string out, err;
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "component", "list", "--commands", d.commands}, "", &out, &err) == 0);
  std::istringstream lines(out);
  std::vector<std::string> listed;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("big-", 0) == 0) listed.push_back(line.substr(0, line.find(' ')));
  }
  BOOST_TEST(listed == expected);
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "component", "list", "--json", "--commands", d.commands}, "", &out,
                                 &err) == 0);
  const json merged = json::parse(out);
  BOOST_TEST(ComponentNames(merged) == expected);
  BOOST_TEST(merged["components"][0]["spec"]["metadata"].size() == 64u);  // the schema's JSON: [{key, value}]

  setenv("PYTHONPATH", PYTHON_GEN_DIR, 1);
  const int rc = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "list-components", "--json", "--commands", d.commands,
                                   "--timeout-ms", "30000"},
                                  "", &out, &err);
  BOOST_TEST(rc == 0, err);
  BOOST_TEST(ComponentNames(json::parse(out)) == expected);
}
