// Replies within a size budget: listings (registry, a stream's events,
// status, statistics) come in pages no larger than EngineOptions::
// max_reply_bytes, encoded; following `next` yields every entry once, in
// order. On a real engine over RocksDB, and through a real daemon with
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
#include "noodle/projections/codec.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

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
  std::vector<std::string> texts;  // result_json of each page
  std::vector<json> pages;
  std::vector<std::string> nexts;
};

// Follows next from the first page until it is empty; every page must be
// accepted and encode within budget.
Pages Follow(Rig& rig, size_t budget, const std::function<std::string(const std::string&)>& query) {
  Pages p;
  std::string after;
  for (int n = 0; n < 10'000; ++n) {
    const engine::Reply r = rig.Query(query(after));
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    const std::string wire = engine::EncodeReply(proj::Id{7, 7}, r);
    BOOST_TEST(wire.size() <= budget, "page " << n << " encodes to " << wire.size() << " bytes");
    engine::Reply back;
    BOOST_REQUIRE(engine::DecodeReply(wire, &back).ok());
    BOOST_TEST(back.next == r.next);
    p.texts.push_back(r.result_json);
    p.pages.push_back(json::parse(r.result_json));
    p.nexts.push_back(r.next);
    if (r.next.empty()) return p;
    BOOST_REQUIRE(r.next != after);
    after = r.next;
  }
  BOOST_FAIL("no last page in 10,000");
  return p;
}

// As upgradectl merges pages: lists appended, objects' members added, the rest the newest.
json Merge(const std::vector<json>& pages) {
  json whole = pages.front();
  for (size_t i = 1; i < pages.size(); ++i) {
    for (const auto& [key, value] : pages[i].items()) {
      json& w = whole[key];
      if (value.is_array()) w.insert(w.end(), value.begin(), value.end());
      else if (value.is_object()) w.update(value);
      else w = value;
    }
  }
  return whole;
}

std::set<std::string> Keys(const json& j) {
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  return keys;
}

std::vector<std::string> ComponentNames(const json& page) {
  std::vector<std::string> names;
  for (const auto& c : page["components"]) names.push_back(c["name"]);
  return names;
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
  BOOST_TEST_MESSAGE(p.pages.size() << " pages");
  BOOST_TEST(p.pages.size() > 20u);  // ~3.3 MB of components in 64 KB pages
  std::vector<std::string> got;
  size_t largest = 0;
  for (size_t i = 0; i < p.pages.size(); ++i) {
    BOOST_TEST((Keys(p.pages[i]) == std::set<std::string>{"components", "seq"}));  // the whole answer's shape
    const auto names = ComponentNames(p.pages[i]);
    BOOST_REQUIRE(!names.empty());
    for (const auto& c : p.pages[i]["components"]) largest = std::max(largest, c.dump().size());
    if (i + 1 < p.pages.size()) BOOST_TEST(p.nexts[i] == names.back());  // where the next page starts
    got.insert(got.end(), names.begin(), names.end());
  }
  BOOST_TEST(got == expected);  // disjoint, complete, in order
  // Pages stop because the budget is reached, not sooner: the next entry would not have fit.
  for (size_t i = 0; i + 1 < p.pages.size(); ++i) BOOST_TEST(p.texts[i].size() + largest + 512 > kBudget);

  // A position that names no component continues from the next name.
  const auto first_after = [&](const std::string& after) {
    const engine::Reply r = rig.Query(engine::cmd::QueryRegistryPage(after));
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    const auto names = ComponentNames(json::parse(r.result_json));
    return names.empty() ? std::string() : names.front();
  };
  BOOST_TEST(first_after("svc-01000x") == "svc-01001");
  BOOST_TEST(first_after("a") == "svc-00000");
  BOOST_REQUIRE(rig.Query(engine::cmd::Deregister("svc-01500", "gone between pages")).accepted);
  BOOST_TEST(first_after("svc-01500") == "svc-01501");
  const engine::Reply beyond = rig.Query(engine::cmd::QueryRegistryPage("zzz"));
  BOOST_TEST(json::parse(beyond.result_json)["components"].empty());
  BOOST_TEST(beyond.next.empty());

  // limit: at most that many; next when more follow.
  const engine::Reply seven = rig.Query(engine::cmd::QueryRegistryPage("svc-02000", 7));
  BOOST_TEST(ComponentNames(json::parse(seven.result_json)).size() == 7u);
  BOOST_TEST(seven.next == "svc-02007");
  const engine::Reply tail = rig.Query(engine::cmd::QueryRegistryPage("svc-02990", 100));
  BOOST_TEST(ComponentNames(json::parse(tail.result_json)).size() == 9u);
  BOOST_TEST(tail.next.empty());
  // One component: whole, with no next.
  const engine::Reply one = rig.Query(engine::cmd::QueryRegistry("svc-00042"));
  BOOST_TEST(json::parse(one.result_json)["name"] == "svc-00042");
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
  BOOST_TEST_MESSAGE(p.pages.size() << " pages");
  BOOST_TEST(p.pages.size() > 3u);  // ~200 bytes a summary: 3,000 do not fit 64 KB
  uint64_t expect = 1;
  for (size_t i = 0; i < p.pages.size(); ++i) {
    BOOST_REQUIRE(p.pages[i].is_array());
    BOOST_REQUIRE(!p.pages[i].empty());
    for (const auto& e : p.pages[i]) {
      BOOST_REQUIRE(e["stream_version"].get<uint64_t>() == expect);
      ++expect;
    }
    if (i + 1 < p.pages.size()) {
      BOOST_TEST(p.nexts[i] == std::to_string(expect));
      BOOST_TEST(p.texts[i].size() + 2 * p.pages[i][0].dump().size() + 512 > kBudget);  // full
    }
  }
  BOOST_TEST(expect == 3001u);  // every event once, in order

  // The count limit: next when the stream goes on, none at its end.
  const auto page = [&](uint64_t from, uint32_t limit) { return rig.Query(engine::cmd::QueryEvents(stream, from, limit)); };
  const engine::Reply fifty = page(1, 50);
  BOOST_TEST(json::parse(fifty.result_json).size() == 50u);
  BOOST_TEST(fifty.next == "51");
  BOOST_TEST(page(2990, 10).next == "3000");
  const engine::Reply end = page(2991, 10);
  BOOST_TEST(json::parse(end.result_json).size() == 10u);
  BOOST_TEST(end.next.empty());
  const engine::Reply past = page(5000, 10);
  BOOST_TEST(json::parse(past.result_json).empty());
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

  const json status = proj::ToJson(rig.engine->Current().status);
  BOOST_REQUIRE(status["active"].size() == 30u);
  BOOST_REQUIRE(status["recent"].size() == 256u);
  const Pages sp = Follow(rig, kSmall, [](const std::string& after) { return engine::cmd::QueryStatusPage(after); });
  BOOST_TEST_MESSAGE(sp.pages.size() << " status pages");
  BOOST_TEST(sp.pages.size() > 3u);
  for (const auto& page : sp.pages) BOOST_TEST(Keys(page) == Keys(status));  // the whole answer's shape
  BOOST_TEST(Merge(sp.pages) == status);  // every part once, in order

  const json stats = proj::ToJson(rig.engine->Statistics());
  BOOST_REQUIRE(stats["per_component"].size() == 300u);  // the ended ones
  const Pages tp = Follow(rig, kSmall, [](const std::string& after) { return engine::cmd::QueryStatisticsPage(after); });
  BOOST_TEST_MESSAGE(tp.pages.size() << " statistics pages");
  BOOST_TEST(tp.pages.size() > 1u);
  for (const auto& page : tp.pages) BOOST_TEST(Keys(page) == Keys(stats));
  BOOST_TEST(Merge(tp.pages) == stats);

  // A status position whose entry is gone goes on with what is still there.
  std::string gone = "recent:";
  gone += proj::Id{1, 1}.hex();
  const engine::Reply again = rig.Query(engine::cmd::QueryStatusPage(gone));
  BOOST_REQUIRE_MESSAGE(again.accepted, again.message);
  const json page = json::parse(again.result_json);
  BOOST_TEST(page["active"].empty());
  BOOST_TEST(page["recent"][0] == status["recent"][0]);
  for (const char* bad : {"nowhere:x", "active:not-hex", "points"}) {
    const engine::Reply r = rig.Query(engine::cmd::QueryStatusPage(bad));
    BOOST_TEST(!r.accepted, bad);
    BOOST_TEST((r.code == fb::RejectCode::Invalid), bad);
  }
}

BOOST_AUTO_TEST_CASE(a_listing_that_fits_is_one_page_with_the_text_it_always_had) {
  Rig rig(engine::EngineOptions{}.max_reply_bytes);
  std::vector<std::string> commands = {engine::cmd::Register(Comp("alpha", 3, 10)), engine::cmd::Register(Comp("beta")),
                                       engine::cmd::Point("before")};
  BOOST_REQUIRE(rig.All(std::move(commands)) == 3u);
  engine::cmd::UpgradeRequest r;
  r.component = "beta";
  r.target_version = "1.1.0";
  BOOST_REQUIRE(rig.Query(engine::cmd::Upgrade(r)).accepted);
  const auto whole = [&](std::string command, const std::string& expected) {
    const engine::Reply reply = rig.Query(std::move(command));
    BOOST_REQUIRE(reply.accepted);
    BOOST_TEST(reply.result_json == expected);
    BOOST_TEST(reply.next.empty());
  };
  whole(engine::cmd::QueryRegistry(), proj::ToJson(rig.engine->Current().registry).dump());
  whole(engine::cmd::QueryStatus(), proj::ToJson(rig.engine->Current().status).dump());
  whole(engine::cmd::QueryStatistics(), proj::ToJson(rig.engine->Statistics()).dump());
}

BOOST_AUTO_TEST_CASE(an_entry_larger_than_any_page_is_refused_by_name_and_the_listing_goes_on_past_it) {
  Rig rig(1000);  // below the floor: 4 KiB
  std::vector<std::string> commands = {engine::cmd::Register(Comp("a-small")),
                                       engine::cmd::Register(Comp("b-huge", 8, 1000)),
                                       engine::cmd::Register(Comp("c-small"))};
  BOOST_REQUIRE(rig.All(std::move(commands)) == 3u);
  const engine::Reply first = rig.Query(engine::cmd::QueryRegistryPage(""));
  BOOST_REQUIRE(first.accepted);
  BOOST_TEST(ComponentNames(json::parse(first.result_json)) == std::vector<std::string>{"a-small"});
  BOOST_TEST(first.next == "a-small");
  const engine::Reply second = rig.Query(engine::cmd::QueryRegistryPage(first.next));
  BOOST_TEST(!second.accepted);
  BOOST_TEST((second.code == fb::RejectCode::Unavailable));
  BOOST_TEST(second.message.find("b-huge") != std::string::npos, second.message);
  const engine::Reply single = rig.Query(engine::cmd::QueryRegistry("b-huge"));
  BOOST_TEST((single.code == fb::RejectCode::Unavailable));
  const engine::Reply rest = rig.Query(engine::cmd::QueryRegistryPage("b-huge"));
  BOOST_TEST(ComponentNames(json::parse(rest.result_json)) == std::vector<std::string>{"c-small"});
  BOOST_TEST(rest.next.empty());
}

// upgrade clients against a daemon with the default budget (1 MB): 40
// components of ~70 KB each take three pages or more.
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
  BOOST_TEST(ComponentNames(json::parse(first.result_json)).size() < 40u);

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
  BOOST_TEST(merged["components"][0]["metadata"].size() == 64u);

  setenv("PYTHONPATH", PYTHON_GEN_DIR, 1);
  const int rc = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "list-components", "--json", "--commands", d.commands,
                                   "--timeout-ms", "30000"},
                                  "", &out, &err);
  BOOST_TEST(rc == 0, err);
  BOOST_TEST(ComponentNames(json::parse(out)) == expected);
}
