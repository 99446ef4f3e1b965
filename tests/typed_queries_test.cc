// Typed query replies (schemas/queries.fbs): every query kind answers with
// its table and decodes typed off the wire; a reply that does not verify is
// Corruption (to the decoder and to upgradectl); the JSON form converts back
// to the same buffer and is what stock flatc writes; pages break between
// entries and between lists and add up to the whole answer; readers on
// several threads get the same answer.
#define BOOST_TEST_MODULE typed_queries
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cctype>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <zmq_addon.hpp>

#include <nlohmann/json.hpp>

#include "noodle/engine/engine.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/query_result.h"
#include "queries.h"  // engine/service/src: AnswerQuery itself, for hand-built states
#include "support/test_support.h"
#include "support/typed_answers.h"

using namespace noodle;
using nlohmann::json;

namespace {

using test::Answer;
using test::SizeOf;
using test::Str;

// "rolling_back" -> "RollingBack": the projections' names and the schema's.
std::string Camel(const std::string& snake) {
  std::string out;
  bool upper = true;
  for (const char c : snake) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// The reply as a client gets it: encoded, then decoded (and verified).
engine::Reply OverTheWire(const engine::Reply& r) {
  engine::Reply back;
  const Status s = engine::DecodeReply(engine::EncodeReply(proj::Id{1, 2}, r), &back);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return back;
}

proj::Component Comp(const std::string& name, const std::string& version = "1.0.0") {
  proj::Component c;
  c.name = name;
  c.version = version;
  c.type = fb::ComponentType::Service;
  c.hooks["swap"] = proj::Hook{{"true"}, false, 5000};
  c.metadata["team"] = "core";
  return c;
}

// A real engine on a real log, with no executor: started upgrades stay running.
struct Rig {
  test::TempDir dir;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<engine::Engine> engine;
  explicit Rig(size_t max_reply_bytes = engine::EngineOptions{}.max_reply_bytes) {
    BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok());
    engine::EngineOptions o;
    o.max_reply_bytes = max_reply_bytes;
    const Status s = engine::Engine::Open(log.get(), nullptr, nullptr, o, &engine);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }
  engine::Reply Ok(std::string command) {
    engine::Reply r = engine->Execute(std::move(command));
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    return r;
  }
};

// Two components, a running upgrade, a refused one, a rollback point.
struct Busy : Rig {
  proj::Id running, refused;
  Busy() {
    Ok(engine::cmd::Register(Comp("db", "1.4.0")));
    Ok(engine::cmd::Register(Comp("web")));
    Ok(engine::cmd::Point("before"));
    engine::cmd::UpgradeRequest r;
    r.component = "db";
    r.target_version = "1.5.0";
    r.strategy.kind = fb::StrategyKind::Canary;
    r.strategy.weights = {20, 100};
    Ok(engine::cmd::Upgrade(r, {}, &running));
    r.component = "web";
    r.target_version = "2.0.0";  // breaking: refused
    r.strategy.kind = fb::StrategyKind::Immediate;
    r.strategy.weights.clear();
    BOOST_REQUIRE(!engine->Execute(engine::cmd::Upgrade(r, {}, &refused)).accepted);
  }
};

// A status, registry and statistics with every field away from its default.
struct Rich {
  engine::State state;
  proj::Statistics stats;
  proj::Id active{0xc0de, 1}, parent{0xbeef, 2}, ended{0xc0de, 3};
  Rich() {
    proj::Upgrade u;
    u.id = active;
    u.parent = parent;
    u.component = "db";
    u.from_version = "1.4.0";
    u.to_version = "1.5.0-rc.1";
    u.strategy.kind = fb::StrategyKind::Canary;
    u.priority = -7;
    u.phase = proj::Phase::kRollingBack;
    u.reason = "aborted by alice";
    u.requested_seq = 30;
    u.requested_ns = 1'700'000'000'000'000'001;
    u.started_ns = 1'700'000'000'000'000'002;
    u.pause_until_ns = 1'700'000'000'000'000'003;
    u.paused_ns = 7'000'000'000;
    u.paused_since_ns = 1'700'000'000'000'000'004;
    u.plan = {{fb::StepAction::Shift, "", 25, true}, {fb::StepAction::Shift, "web-1", 50, false},
              {fb::StepAction::Shift, "web-2", 100, false}};
    u.steps = {proj::StepState::kSucceeded, proj::StepState::kFailed, proj::StepState::kPending};
    u.weight = 50;
    u.unhealthy = 2;
    u.reverts = {1, 0};
    state.status.upgrades[u.id] = u;
    state.status.recent.push_back({ended, "shop", "1.1.0", "1.2.0", "health check failed", proj::Phase::kRolledBack,
                                   1'700'000'000'000'000'010, 1'700'000'000'250'000'010});
    state.status.points = {{"after-release", 20}, {"before-release", 5}};
    proj::RollbackOp op;
    op.id = parent;
    op.point = "before-release";
    op.to_seq = 5;
    op.failed = "upgrade of db ended failed";
    state.status.rollbacks[op.id] = op;
    state.status.agents["host-1"] = {"web-1", "web-2"};
    state.status.history_count = 9;
    state.status.seq = 41;
    state.registry.components["db"] = {Comp("db", "1.4.0"), 3, 40};
    state.registry.seq = 41;
    stats.seq = 41;
    for (const char* o : {"completed", "rejected", "failed", "cancelled", "aborted", "rolled_back", "rollback_failed"}) {
      stats.overall.outcomes[o] = 1 + std::string(o).size();  // each its own count
    }
    for (int64_t ms : {200, 100, 300, 400, 1000}) stats.overall.durations.Add(ms * 1'000'000);
    stats.per_component["db"] = stats.overall;
    stats.open[{0xc0de, 9}] = {"db", 1};
  }
  engine::Reply Query(const std::string& command, const store::EventLog& log, size_t budget = 1 << 20) const {
    const auto* cmd = engine::cmd::VerifyCommand(command);
    BOOST_REQUIRE(cmd != nullptr);
    return engine::AnswerQuery(*cmd, state, stats, log, budget);
  }
};

// An empty log for AnswerQuery over hand-built states.
struct EmptyLog {
  test::TempDir dir;
  std::unique_ptr<store::EventLog> log;
  EmptyLog() { BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok()); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_query_kind_answers_with_its_table_and_decodes_typed) {
  Busy rig;
  const engine::Reply one = OverTheWire(rig.Ok(engine::cmd::QueryStatus(rig.running)));
  const auto& u = Answer<fb::UpgradeInfo>(one);
  BOOST_TEST(IdToHex(*u.id()) == rig.running.hex());
  BOOST_TEST(Str(u.component()) == "db");
  BOOST_TEST(Str(u.from_version()) == "1.4.0");
  BOOST_TEST(Str(u.to_version()) == "1.5.0");
  BOOST_TEST((u.phase() == fb::Phase::Running));
  BOOST_TEST((u.strategy() == fb::StrategyKind::Canary));
  BOOST_REQUIRE(SizeOf(u.steps()) == 2u);
  BOOST_TEST((u.steps()->Get(0)->state() == fb::StepState::Running));
  BOOST_TEST(u.steps()->Get(0)->weight() == 20);
  BOOST_TEST(u.requested_ns() > 0);
  BOOST_TEST(u.parent() == nullptr);

  const engine::Reply ended = OverTheWire(rig.Ok(engine::cmd::QueryStatus(rig.refused)));
  BOOST_TEST((Answer<fb::UpgradeInfo>(ended).phase() == fb::Phase::Rejected));

  const engine::Reply status = OverTheWire(rig.Ok(engine::cmd::QueryStatus()));
  const auto& s = Answer<fb::StatusResult>(status);
  BOOST_TEST(SizeOf(s.active()) == 1u);
  BOOST_TEST(SizeOf(s.recent()) == 1u);
  BOOST_TEST(s.history_count() == 1u);
  BOOST_REQUIRE(SizeOf(s.points()) == 1u);
  BOOST_TEST(s.points()->Get(0)->name()->str() == "before");
  BOOST_TEST(s.seq() == rig.log->LastSeq());

  const engine::Reply component = OverTheWire(rig.Ok(engine::cmd::QueryRegistry("db")));
  const auto& c = Answer<fb::ComponentInfo>(component);
  BOOST_TEST(c.spec()->version()->str() == "1.4.0");
  BOOST_TEST((c.spec()->type() == fb::ComponentType::Service));
  BOOST_TEST(c.registered_seq() == 1u);

  const engine::Reply registry = OverTheWire(rig.Ok(engine::cmd::QueryRegistry()));
  const auto& reg = Answer<fb::RegistryResult>(registry);
  BOOST_REQUIRE(SizeOf(reg.components()) == 2u);
  BOOST_TEST(reg.components()->Get(1)->spec()->name()->str() == "web");

  const engine::Reply statistics = OverTheWire(rig.Ok(engine::cmd::QueryStatistics()));
  const auto& st = Answer<fb::StatisticsResult>(statistics);
  BOOST_TEST(test::CountOf(st.outcomes(), fb::Outcome::Rejected) == 1u);
  BOOST_TEST(st.in_flight() == 1u);
  BOOST_TEST(st.durations()->count() == 1u);

  const engine::Reply events = OverTheWire(rig.Ok(engine::cmd::QueryEvents("component/db")));
  const auto* list = Answer<fb::EventsResult>(events).events();
  BOOST_REQUIRE(SizeOf(list) == 1u);
  BOOST_TEST((static_cast<fb::Event>(list->Get(0)->event_type()) == fb::Event::ComponentRegistered));
  BOOST_TEST(list->Get(0)->seq() == 1u);

  // Asked for another kind than it holds, or of a reply with no answer: said so.
  const auto wrong = engine::AnswerOf<fb::RegistryResult>(status);
  BOOST_TEST(wrong.status().IsInvalidArgument(), wrong.status().ToString());
  BOOST_TEST(wrong.status().message().find("StatusResult") != std::string::npos);
  const engine::Reply registered = rig.Ok(engine::cmd::Register(Comp("cache")));
  BOOST_TEST(engine::QueryResultOf(registered).status().IsInvalidArgument());
  BOOST_TEST(engine::ResultJson(registered).empty());
}

BOOST_AUTO_TEST_CASE(phases_strategies_and_outcomes_are_the_schemas_enums_and_times_are_ns) {
  // Every phase and step state of the projections has its value, of the same name.
  for (uint8_t p = 0; p <= static_cast<uint8_t>(proj::Phase::kRollbackFailed); ++p) {
    const auto phase = static_cast<proj::Phase>(p);
    BOOST_TEST(fb::EnumNamePhase(engine::query::PhaseOf(phase)) == Camel(proj::PhaseName(phase)));
    BOOST_TEST((engine::query::PhaseOf(phase) >= fb::Phase::Completed) == proj::IsEnd(phase));
  }
  for (const char* o : {"completed", "rejected", "failed", "cancelled", "aborted", "rolled_back", "rollback_failed"}) {
    const auto outcome = engine::query::OutcomeOf(o);
    BOOST_REQUIRE(outcome.has_value());
    BOOST_TEST(fb::EnumNameOutcome(*outcome) == Camel(o));
  }
  BOOST_TEST(!engine::query::OutcomeOf("exploded").has_value());

  const Rich rich;
  EmptyLog empty;
  const engine::Reply one = OverTheWire(rich.Query(engine::cmd::QueryStatus(rich.active), *empty.log));
  const auto& u = Answer<fb::UpgradeInfo>(one);
  BOOST_TEST((u.phase() == fb::Phase::RollingBack));
  BOOST_TEST((u.strategy() == fb::StrategyKind::Canary));
  BOOST_TEST(u.priority() == -7);
  BOOST_TEST(u.weight() == 50);
  BOOST_TEST(Str(u.to_version()) == "1.5.0-rc.1");
  BOOST_TEST(Str(u.reason()) == "aborted by alice");
  BOOST_TEST(u.reverts_left() == 2u);
  BOOST_TEST(u.requested_seq() == 30u);
  BOOST_TEST(u.requested_ns() == 1'700'000'000'000'000'001);
  BOOST_TEST(u.started_ns() == 1'700'000'000'000'000'002);
  BOOST_TEST(u.pause_until_ns() == 1'700'000'000'000'000'003);
  BOOST_TEST(u.paused_ns() == 7'000'000'000);
  BOOST_TEST(u.paused_since_ns() == 1'700'000'000'000'000'004);
  BOOST_TEST(u.unhealthy() == 2u);
  BOOST_REQUIRE(u.parent() != nullptr);
  BOOST_TEST(IdToHex(*u.parent()) == rich.parent.hex());
  BOOST_REQUIRE(SizeOf(u.steps()) == 3u);
  BOOST_TEST(u.steps()->Get(0)->pause());
  BOOST_TEST(Str(u.steps()->Get(1)->instance()) == "web-1");
  BOOST_TEST((u.steps()->Get(1)->state() == fb::StepState::Failed));
  BOOST_TEST((u.steps()->Get(2)->state() == fb::StepState::Pending));

  const engine::Reply ended = OverTheWire(rich.Query(engine::cmd::QueryStatus(rich.ended), *empty.log));
  const auto& e = Answer<fb::UpgradeInfo>(ended);
  BOOST_TEST((e.phase() == fb::Phase::RolledBack));
  BOOST_TEST(e.finished_ns() - e.requested_ns() == 250'000'000);
  BOOST_TEST(Str(e.reason()) == "health check failed");

  const engine::Reply status = OverTheWire(rich.Query(engine::cmd::QueryStatus(), *empty.log));
  const auto& s = Answer<fb::StatusResult>(status);
  BOOST_TEST(s.history_count() == 9u);
  BOOST_REQUIRE(SizeOf(s.rollbacks()) == 1u);
  BOOST_TEST(Str(s.rollbacks()->Get(0)->failed()) == "upgrade of db ended failed");
  BOOST_TEST(s.rollbacks()->Get(0)->to_seq() == 5u);
  BOOST_REQUIRE(SizeOf(s.agents()) == 1u);
  BOOST_TEST(SizeOf(s.agents()->Get(0)->instances()) == 2u);
  BOOST_TEST(s.points()->Get(1)->seq() == 5u);  // by name: after-release, before-release

  const engine::Reply statistics = OverTheWire(rich.Query(engine::cmd::QueryStatistics(), *empty.log));
  const auto& st = Answer<fb::StatisticsResult>(statistics);
  for (const auto& [name, count] : rich.stats.overall.outcomes) {
    BOOST_TEST(test::CountOf(st.outcomes(), *engine::query::OutcomeOf(name)) == count, name);
  }
  const fb::Durations& d = *st.durations();
  BOOST_TEST(d.count() == 5u);
  BOOST_TEST(d.min_ns() == 100'000'000);  // exact
  BOOST_TEST(d.max_ns() == 1'000'000'000);
  BOOST_TEST(std::abs(d.median_ns() - 300'000'000) <= 300'000'000 / 128);  // the histogram's bound
  BOOST_TEST(std::abs(d.p95_ns() - 1'000'000'000) <= 1'000'000'000 / 128);
  BOOST_TEST(st.in_flight() == 1u);
  BOOST_REQUIRE(SizeOf(st.per_component()) == 1u);
  BOOST_TEST(st.per_component()->Get(0)->durations()->count() == 5u);
}

BOOST_AUTO_TEST_CASE(a_reply_that_does_not_verify_is_corruption) {
  const Rich rich;
  EmptyLog empty;
  const engine::Reply good = rich.Query(engine::cmd::QueryStatus(), *empty.log);
  BOOST_REQUIRE(engine::QueryResultOf(good).ok());
  const std::string wire = engine::EncodeReply(proj::Id{1, 2}, good);
  const size_t nested = wire.find(good.result);
  BOOST_REQUIRE(nested != std::string::npos);

  // The nested answer's root pointing out of it: the Reply verifies no more.
  std::string bad_root = wire;
  bad_root[nested + 3] = '\x7f';
  engine::Reply decoded;
  Status s = engine::DecodeReply(bad_root, &decoded);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  // A list inside it claiming more elements than there are bytes.
  const auto* root = flatbuffers::GetRoot<fb::QueryResult>(good.result.data());
  const auto* active = root->answer_as_StatusResult()->active();
  std::string bad_length = wire;
  const size_t length_at = nested + (reinterpret_cast<const char*>(active) - good.result.data());
  bad_length[length_at + 3] = '\x40';
  s = engine::DecodeReply(bad_length, &decoded);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST(engine::DecodeReply(wire.substr(0, wire.size() - 9), &decoded).IsCorruption());

  // A Reply carrying bytes that are no QueryResult (built in process, never
  // verified by DecodeReply): the readers refuse them too.
  engine::Reply garbage = good;
  garbage.result = good.result.substr(0, good.result.size() / 2);
  BOOST_TEST(engine::QueryResultOf(garbage).status().IsCorruption());
  BOOST_TEST(engine::AnswerOf<fb::StatusResult>(garbage).status().IsCorruption());
  BOOST_TEST(engine::ResultJson(garbage).empty());
}

// upgradectl against a command endpoint that answers with a damaged reply,
// or with the wrong kind of answer: exit 4 (corrupt), never a crash.
BOOST_AUTO_TEST_CASE(upgradectl_reports_a_reply_that_does_not_verify_as_corrupt) {
  const Rich rich;
  EmptyLog empty;
  const engine::Reply status = rich.Query(engine::cmd::QueryStatus(), *empty.log);
  const std::string wire = engine::EncodeReply(proj::Id{1, 2}, status);
  std::string damaged = wire;
  damaged[wire.find(status.result) + 3] = '\x7f';
  const std::string registry_wire =
      engine::EncodeReply(proj::Id{1, 2}, rich.Query(engine::cmd::QueryRegistry(), *empty.log));

  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::mutex mu;
  std::string answer;  // what the endpoint sends back, set before each run
  std::atomic<bool> stop{false};
  std::thread server([&] {
    for (int polls = 0; polls < 3000 && !stop; ++polls) {  // bounded: 5 minutes at most
      zmq::pollitem_t item{router.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> frames;
      if (!zmq::recv_multipart(router, std::back_inserter(frames)) || frames.size() != 3) continue;
      router.send(frames[0], zmq::send_flags::sndmore);
      router.send(frames[1], zmq::send_flags::sndmore);
      std::lock_guard<std::mutex> lock(mu);
      router.send(zmq::buffer(answer), zmq::send_flags::none);
    }
  });
  const auto run = [&](const std::string& reply, std::string* err) {
    {
      std::lock_guard<std::mutex> lock(mu);
      answer = reply;
    }
    std::string out;
    return test::RunProgram({UPGRADECTL_PATH, "status", "--commands", endpoint, "--request-timeout", "5000ms"}, "", &out, err);
  };
  std::string err;
  BOOST_TEST(run(wire, &err) == 0, err);  // the endpoint works: a good reply is printed
  BOOST_TEST(run(damaged, &err) == 4);
  BOOST_TEST(err.find("reply") != std::string::npos, err);
  BOOST_TEST(err.find("Corruption") != std::string::npos, err);
  BOOST_TEST(run(registry_wire, &err) == 4);  // verifies, but answers another question
  BOOST_TEST(err.find("expected StatusResult") != std::string::npos, err);
  stop = true;
  server.join();
}

BOOST_AUTO_TEST_CASE(json_conversion_round_trips_and_is_what_stock_flatc_writes) {
  Busy rig;
  test::TempDir dir;
  const std::vector<std::string> queries = {
      engine::cmd::QueryStatus(rig.running), engine::cmd::QueryStatus(), engine::cmd::QueryRegistry("db"),
      engine::cmd::QueryRegistry(), engine::cmd::QueryStatistics(), engine::cmd::QueryEvents("component/db")};
  for (size_t i = 0; i < queries.size(); ++i) {
    const engine::Reply r = OverTheWire(rig.Ok(queries[i]));
    const std::string text = engine::ResultJson(r);
    BOOST_REQUIRE(!text.empty());
    const json parsed = json::parse(text);
    BOOST_TEST(parsed.contains("answer_type"));
    // Back to a buffer, and that buffer to the same text: nothing lost either way.
    auto bytes = engine::ResultFromJson(text);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), bytes.status().ToString());
    engine::Reply again;
    again.accepted = true;
    again.result = bytes.value();
    BOOST_REQUIRE(engine::QueryResultOf(again).ok());
    BOOST_TEST(engine::ResultJson(again) == text);
    // Stock flatc reads the same buffer with the schema files and writes the same JSON.
    const std::string bin = dir.sub("answer-" + std::to_string(i) + ".bin");
    std::ofstream(bin, std::ios::binary) << r.result;
    std::string out, err;
    BOOST_REQUIRE_MESSAGE(test::RunProgram({FLATC_PATH, "--json", "--strict-json", "--defaults-json", "--raw-binary",
                                            "-I", SCHEMA_DIR, "-o", dir.path(), std::string(SCHEMA_DIR) + "/queries.fbs",
                                            "--", bin},
                                           "", &out, &err) == 0,
                          err);
    std::ifstream in(dir.sub("answer-" + std::to_string(i) + ".json"));
    BOOST_TEST(json::parse(in) == parsed, text);
  }
  // Whatever the schema does not describe is refused.
  const auto unknown = engine::ResultFromJson(R"({"answer_type": "RegistryResult", "answer": {"colour": "red"}})");
  BOOST_TEST(unknown.status().IsInvalidArgument(), unknown.status().ToString());
  BOOST_TEST(engine::ResultFromJson("not json").status().IsInvalidArgument());

  // Dry runs keep their plan as JSON text (Accepted.result_json).
  engine::cmd::UpgradeRequest dry;
  dry.component = "web";
  dry.target_version = "1.1.0";
  dry.dry_run = true;
  const engine::Reply plan = OverTheWire(rig.Ok(engine::cmd::Upgrade(dry)));
  BOOST_TEST(plan.result.empty());
  BOOST_TEST(!plan.result_json.empty());
  BOOST_TEST(engine::ResultJson(plan) == plan.result_json);
}

// A budget of 4 KiB (the floor): status pages break between entries and
// between lists; each resumes after the entry its cursor names, and the
// pages' JSON, merged, is the whole answer's.
BOOST_AUTO_TEST_CASE(a_page_boundary_falls_between_entries_and_lists) {
  constexpr size_t kBudget = 4096;
  Rich rich;
  for (uint64_t i = 0; i < 40; ++i) {
    proj::Upgrade u = rich.state.status.upgrades.begin()->second;
    u.id = {0xa, i};
    u.parent = {};
    rich.state.status.upgrades[u.id] = u;
  }
  for (int i = 0; i < 100; ++i) rich.state.status.points["p-" + std::to_string(1000 + i)] = i;
  EmptyLog empty;
  const engine::Reply whole = rich.Query(engine::cmd::QueryStatus(), *empty.log);
  BOOST_REQUIRE(whole.next.empty());

  json merged;
  std::string after;
  std::vector<std::string> cursors;
  for (int n = 0; n < 100; ++n) {
    const engine::Reply r = rich.Query(engine::cmd::QueryStatusPage(after), *empty.log, kBudget);
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    BOOST_TEST(engine::EncodeReply(proj::Id{1, 2}, r).size() <= kBudget);
    const auto& page = Answer<fb::StatusResult>(r);
    BOOST_TEST(page.history_count() == 9u);  // the counters on every page
    // The page starts right after the entry the cursor named.
    if (after.starts_with("active:") && SizeOf(page.active()) > 0) {
      const auto hex = IdFromHex(after.substr(7));
      BOOST_REQUIRE(hex.has_value());
      const proj::Id last = proj::Id::From(&*hex);
      BOOST_TEST(IdToHex(*page.active()->Get(0)->id()) == std::next(rich.state.status.upgrades.find(last))->first.hex());
    }
    if (after.starts_with("points:") && SizeOf(page.points()) > 0) {
      BOOST_TEST(page.points()->Get(0)->name()->str() == std::next(rich.state.status.points.find(after.substr(7)))->first);
    }
    const json answer = json::parse(engine::ResultJson(r))["answer"];
    if (merged.is_null()) {
      merged = answer;
    } else {
      for (const auto& [key, value] : answer.items()) {
        if (value.is_array()) merged[key].insert(merged[key].end(), value.begin(), value.end());
      }
    }
    if (r.next.empty()) break;
    cursors.push_back(r.next);
    after = r.next;
  }
  BOOST_TEST(cursors.size() > 3u);
  // Some page ends inside the upgrades, some inside the points.
  BOOST_TEST(std::any_of(cursors.begin(), cursors.end(), [](const auto& c) { return c.starts_with("active:"); }));
  BOOST_TEST(std::any_of(cursors.begin(), cursors.end(), [](const auto& c) { return c.starts_with("points:"); }));
  BOOST_TEST(merged == json::parse(engine::ResultJson(whole))["answer"]);
}

// AnswerQuery only reads its arguments: readers on several threads at once
// get the answer one reader gets.
BOOST_AUTO_TEST_CASE(concurrent_readers_get_the_same_answers) {
  const Rich rich;
  EmptyLog empty;
  const std::vector<std::string> queries = {engine::cmd::QueryStatus(), engine::cmd::QueryStatus(rich.active),
                                            engine::cmd::QueryRegistry(), engine::cmd::QueryStatistics(),
                                            engine::cmd::QueryStatusPage("points:after-release")};
  std::vector<const fb::CommandEnvelope*> commands;
  std::vector<std::string> expected, expected_json;
  for (const auto& q : queries) {
    commands.push_back(engine::cmd::VerifyCommand(q));
    BOOST_REQUIRE(commands.back() != nullptr);
    const engine::Reply r = rich.Query(q, *empty.log);
    BOOST_REQUIRE(r.accepted);
    expected.push_back(r.result);
    expected_json.push_back(engine::ResultJson(r));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {  // no Boost.Test macros off the main thread: they are not thread-safe
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < queries.size(); ++i) {
          const engine::Reply r = engine::AnswerQuery(*commands[i], rich.state, rich.stats, *empty.log, 1 << 20);
          if (r.result != expected[i] || engine::ResultJson(r) != expected_json[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& t : readers) t.join();
  BOOST_TEST(mismatches.load() == 0);
}
