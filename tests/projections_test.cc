// Projection folds and their summaries, event by event; their snapshot codec.
#define BOOST_TEST_MODULE projections
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "noodle/envelope.h"
#include "noodle/projections/codec.h"
#include "noodle/projections/registry.h"
#include "noodle/projections/statistics.h"
#include "noodle/projections/status.h"

using namespace noodle;
using nlohmann::json;

namespace {

// An event as the log would hand it back.
struct Built {
  std::string bytes;
  const fb::EventEnvelope* env() const { return fb::GetEventEnvelope(bytes.data()); }
};

template <typename F>
Built Make(uint64_t seq, int64_t time_ns, fb::Event type, F&& payload) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = payload(fbb);
  EventMeta meta;
  meta.event_id = fb::Id128(1, seq);
  meta.stream = "s";
  meta.time_ns = time_ns;
  Built b{FinishEvent(fbb, meta, type, body)};
  fb::GetMutableEventEnvelope(b.bytes.data())->mutate_seq(seq);
  return b;
}

// Projections with every field set away from its default. The format-1
// blobs in tests/data/snapshot-format-1 were written from exactly these
// values by the 0.1.0 codec: change them and those blobs no longer match.
proj::Component RichComponent(const std::string& name) {
  proj::Component c;
  c.name = name;
  c.version = "1.4.0";
  c.type = fb::ComponentType::Service;
  c.hot_swappable = false;
  c.critical = true;
  c.dependencies = {{"db", "^1.4"}, {"cache", ">=2.0.0"}};
  c.artifact_location = "/srv/" + name + ".tar";
  c.artifact_sha256 = std::string(64, 'a');
  c.artifact_require_signature = true;
  c.metadata = {{"owner", "data-team"}, {"tier", "1"}};
  c.executor = fb::ExecutorKind::Agent;
  c.hooks["swap"] = proj::Hook{{"/opt/hooks/swap.sh", "--fast"}, false, 5000};
  c.hooks["health"] = proj::Hook{{"test -f healthy"}, true, 30000};
  c.instances = {"web-1", "web-2"};
  return c;
}

proj::Registry RichRegistry() {
  proj::Registry r;
  r.seq = 41;
  r.components["shop"] = {RichComponent("shop"), 3, 40};
  r.components["db"] = {RichComponent("db"), 1, 1};
  r.dependents["db"] = {"shop"};
  r.dependents["cache"] = {"db", "shop"};
  return r;
}

proj::Status RichStatus() {
  proj::Status s;
  s.seq = 41;
  s.last_time_ns = 1'700'000'000'000'000'000;
  proj::Upgrade u;
  u.id = {0xc0de, 1};
  u.parent = {0xbeef, 2};
  u.component = "db";
  u.expected_version = "1.4.0";
  u.from_version = "1.4.0";
  u.to_version = "1.5.0";
  u.requested_target = RichComponent("db");
  u.requested_target.version = "1.5.0";
  u.has_requested_target = true;
  u.target = u.requested_target;
  u.strategy = {fb::StrategyKind::Canary, 3, {25, 50, 100}, 60000, 2};
  u.priority = -7;
  u.timeout_ms = 600000;
  u.rollback_enabled = false;
  u.level = fb::ValidationLevel::Strict;
  u.allow_breaking = true;
  u.requested_by = "alice";
  u.phase = proj::Phase::kRollingBack;
  u.cause = proj::Phase::kAborted;
  u.reason = "aborted by alice";
  u.requested_seq = 30;
  u.requested_ns = 1'700'000'000'000'000'001;
  u.started_ns = 1'700'000'000'000'000'002;
  u.finished_ns = 1'700'000'000'000'000'003;
  u.pause_until_ns = 1'700'000'000'000'000'004;
  u.plan = {{fb::StepAction::Shift, "", 25, true},
            {fb::StepAction::Shift, "web-1", 50, true},
            {fb::StepAction::Shift, "web-2", 100, false}};
  u.parallel = 2;
  u.steps = {proj::StepState::kSucceeded, proj::StepState::kFailed, proj::StepState::kPending};
  u.weight = 50;
  u.unhealthy = 3;
  u.reverts = {1, 0};
  u.revert_running = true;
  u.revert_failures = {"revert of step 1 failed"};
  s.upgrades[u.id] = u;
  proj::Upgrade queued;
  queued.id = {0xc0de, 2};
  queued.component = "shop";
  queued.to_version = "2.0.0";
  queued.phase = proj::Phase::kQueued;
  s.upgrades[queued.id] = queued;
  s.busy["db"] = u.id;
  s.queued["shop"] = 1;
  s.points = {{"before-release", 5}, {"after-release", 20}};
  proj::RollbackOp op;
  op.id = {0xbeef, 2};
  op.point = "before-release";
  op.to_seq = 5;
  op.reason = "bad week";
  op.restore = {RichComponent("db")};
  op.remove = {"cache"};
  op.started_ns = 1'700'000'000'000'000'005;
  op.failed = "upgrade of db to 1.4.0 ended failed";
  s.rollbacks[op.id] = op;
  s.recent.push_back({{0xc0de, 0}, "shop", "1.0.0", "1.1.0", "", proj::Phase::kCompleted, 10, 20});
  s.recent.push_back({{0xc0de, 3}, "shop", "1.1.0", "1.2.0", "health check failed", proj::Phase::kRolledBack, 30, 50});
  s.agents["host-1"] = {"web-1", "web-2"};
  s.history_count = 2;
  return s;
}

proj::Statistics RichStatistics() {
  proj::Statistics s;
  s.seq = 41;
  s.overall.outcomes = {{"completed", 1}, {"failed", 1}, {"rolled_back", 1}};
  s.overall.durations.Add(10);  // 0.1.0 kept them as durations_ns: [10, 20]
  s.overall.durations.Add(20);
  s.per_component["shop"] = s.overall;
  s.open[{0xc0de, 1}] = {"db", 1'700'000'000'000'000'001};
  s.open[{0xc0de, 2}] = {"shop", 7};
  return s;
}

// A snapshot blob as JSON and back, to edit it the way other builds would write it.
json Json(const std::string& blob) { return json::from_msgpack(blob); }
std::string Blob(const json& j) {
  const std::vector<uint8_t> bytes = json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}
std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
// The value of the upgrade filed under id in a status snapshot's JSON.
json& UpgradeIn(json& status, const proj::Id& id) {
  for (auto& pair : status["upgrades"]) {
    if (pair[0] == id.hex()) return pair[1];
  }
  BOOST_FAIL("no upgrade " + id.hex() + " in the snapshot");
  throw;
}

}  // namespace

BOOST_AUTO_TEST_CASE(duration_summary_uses_nearest_rank) {
  proj::Tally t;
  for (int i = 100; i >= 1; --i) t.durations.Add(i);  // below 128 ns every value has a bucket
  const auto d = proj::Summarize(t);
  BOOST_TEST(d.count == 100u);
  BOOST_TEST(d.min_ns == 1);
  BOOST_TEST(d.median_ns == 50);
  BOOST_TEST(d.p95_ns == 95);
  BOOST_TEST(d.max_ns == 100);
  BOOST_TEST(proj::Summarize(proj::Tally{}).count == 0u);
}

BOOST_AUTO_TEST_CASE(statistics_count_outcomes_and_durations_per_component) {
  proj::Statistics s;
  const fb::Id128 a(7, 1), b(7, 2);
  auto requested = [](const fb::Id128& id, const char* component) {
    return [id, component](flatbuffers::FlatBufferBuilder& fbb) {
      return fb::CreateUpgradeRequestedDirect(fbb, &id, component, nullptr, "2.0.0").Union();
    };
  };
  proj::Evolve(s, *Make(1, 1000, fb::Event::UpgradeRequested, requested(a, "db")).env());
  proj::Evolve(s, *Make(2, 1000, fb::Event::UpgradeRequested, requested(b, "db")).env());
  BOOST_TEST(s.open.size() == 2u);
  proj::Evolve(s, *Make(3, 4000, fb::Event::UpgradeCompleted, [&](auto& fbb) {
                 return fb::CreateUpgradeCompletedDirect(fbb, &a, "db", "1.0.0", "2.0.0").Union();
               }).env());
  // Failed with a rollback following: counted as failed, still open
  proj::Evolve(s, *Make(4, 5000, fb::Event::UpgradeFailed, [&](auto& fbb) {
                 return fb::CreateUpgradeFailedDirect(fbb, &b, "boom", 0, true).Union();
               }).env());
  BOOST_TEST(s.open.size() == 1u);
  proj::Evolve(s, *Make(5, 9000, fb::Event::RollbackCompleted, [&](auto& fbb) {
                 return fb::CreateRollbackCompletedDirect(fbb, &b, "1.0.0").Union();
               }).env());
  BOOST_TEST(s.open.empty());
  BOOST_TEST(s.overall.outcomes.at("completed") == 1u);
  BOOST_TEST(s.overall.outcomes.at("failed") == 1u);
  BOOST_TEST(s.overall.outcomes.at("rolled_back") == 1u);
  const proj::DurationHistogram& db = s.per_component.at("db").durations;
  BOOST_TEST(db.count == 2u);
  BOOST_TEST(db.min_ns == 3000);
  BOOST_TEST(db.max_ns == 8000);
  BOOST_TEST((s.overall.durations == db));
  proj::Statistics decoded;
  BOOST_TEST(proj::Decode(proj::Encode(s), &decoded).ok());
  BOOST_TEST((decoded == s));
}

// An ended upgrade's map node is kept and reused by the next request:
// nothing of the ended upgrade (plan, steps, target, reason) shows through,
// and a copy (which keeps no spares) folds on to the same state.
BOOST_AUTO_TEST_CASE(a_request_in_a_reused_node_starts_clean) {
  const fb::Id128 a(9, 1), b(9, 2);
  auto requested = [](const fb::Id128& id) {
    return [id](flatbuffers::FlatBufferBuilder& fbb) {
      return fb::CreateUpgradeRequestedDirect(fbb, &id, "db", nullptr, "2.0.0").Union();
    };
  };
  const std::vector<Built> first = {
      Make(1, 1000, fb::Event::UpgradeRequested, requested(a)),
      Make(2, 2000, fb::Event::UpgradeValidated,
           [&](flatbuffers::FlatBufferBuilder& fbb) {
             std::vector<flatbuffers::Offset<fb::PlannedStep>> plan = {
                 fb::CreatePlannedStepDirect(fbb, "swap", "db-1", 50), fb::CreatePlannedStepDirect(fbb, "swap", "db-2", 100)};
             auto target = fb::CreateComponentSpecDirect(fbb, "db", "2.0.0");
             return fb::CreateUpgradeValidatedDirect(fbb, &a, fb::ValidationLevel::Standard, false, nullptr, &plan, 2,
                                                     "1.0.0", target)
                 .Union();
           }),
      Make(3, 3000, fb::Event::UpgradeFailed,
           [&](auto& fbb) { return fb::CreateUpgradeFailedDirect(fbb, &a, "swap hook failed", 0, false).Union(); }),
  };
  const Built second = Make(4, 4000, fb::Event::UpgradeRequested, requested(b));

  proj::Status reused;
  for (const Built& e : first) proj::Evolve(reused, *e.env());
  BOOST_REQUIRE(reused.upgrades.empty());
  BOOST_REQUIRE(reused.spare.nodes.size() == 1u);  // a's node
  proj::Status copy = reused;
  BOOST_TEST(copy.spare.nodes.empty());
  proj::Evolve(reused, *second.env());
  proj::Evolve(copy, *second.env());
  BOOST_TEST(reused.spare.nodes.empty());
  BOOST_TEST((reused == copy));
  const proj::Upgrade* u = reused.find(proj::Id::From(&b));
  BOOST_REQUIRE(u != nullptr);
  proj::Status clean;  // never held a node
  proj::Evolve(clean, *second.env());
  BOOST_REQUIRE(clean.find(proj::Id::From(&b)) != nullptr);
  BOOST_TEST((*u == *clean.find(proj::Id::From(&b))));
  BOOST_TEST(u->plan.empty());
  BOOST_TEST(u->reason.empty());
  BOOST_TEST(u->target.name.empty());
}

BOOST_AUTO_TEST_CASE(registry_follows_registrations_upgrades_and_deregistrations) {
  proj::Registry r;
  auto spec = [](const char* name, const char* version, const char* dep) {
    return [=](flatbuffers::FlatBufferBuilder& fbb) {
      std::vector<flatbuffers::Offset<fb::Dependency>> deps;
      if (dep != nullptr) deps.push_back(fb::CreateDependencyDirect(fbb, dep, "^1"));
      return fb::CreateComponentRegistered(fbb, fb::CreateComponentSpecDirect(fbb, name, version, fb::ComponentType::Service,
                                                                             true, false, &deps))
          .Union();
    };
  };
  proj::Evolve(r, *Make(1, 1, fb::Event::ComponentRegistered, spec("db", "1.0.0", nullptr)).env());
  proj::Evolve(r, *Make(2, 2, fb::Event::ComponentRegistered, spec("api", "1.0.0", "db")).env());
  BOOST_TEST((r.DependentsOf("db") == std::vector<std::string>{"api"}));
  const fb::Id128 id(1, 1);
  proj::Evolve(r, *Make(3, 3, fb::Event::UpgradeCompleted, [&](auto& fbb) {
                 return fb::CreateUpgradeCompletedDirect(fbb, &id, "db", "1.0.0", "1.1.0").Union();
               }).env());
  BOOST_TEST(r.find("db")->version == "1.1.0");
  BOOST_TEST(r.components.at("db").registered_seq == 1u);
  BOOST_TEST(r.components.at("db").updated_seq == 3u);
  proj::Evolve(r, *Make(4, 4, fb::Event::ComponentDeregistered, [](auto& fbb) {
                 return fb::CreateComponentDeregisteredDirect(fbb, "api").Union();
               }).env());
  BOOST_TEST(r.find("api") == nullptr);
  BOOST_TEST(r.seq == 4u);
}

// ---- snapshot format (codec.h) ----------------------------------------------

BOOST_AUTO_TEST_CASE(snapshots_round_trip_every_field) {
  proj::Registry r;
  BOOST_TEST(proj::Decode(proj::Encode(RichRegistry()), &r).ok());
  BOOST_TEST((r == RichRegistry()));
  proj::Status s;
  BOOST_TEST(proj::Decode(proj::Encode(RichStatus()), &s).ok());
  BOOST_TEST((s == RichStatus()));
  proj::Statistics st;
  BOOST_TEST(proj::Decode(proj::Encode(RichStatistics()), &st).ok());
  BOOST_TEST((st == RichStatistics()));
  // Every phase and step state by its name and back.
  for (uint8_t p = 0; p <= static_cast<uint8_t>(proj::Phase::kRollbackFailed); ++p) {
    proj::Status one = RichStatus();
    one.recent.front().phase = static_cast<proj::Phase>(p);
    one.upgrades.begin()->second.steps[2] = static_cast<proj::StepState>(p % 4);
    proj::Status back;
    BOOST_TEST(proj::Decode(proj::Encode(one), &back).ok());
    BOOST_TEST((back == one), "phase " << proj::PhaseName(one.recent.front().phase));
  }
}

BOOST_AUTO_TEST_CASE(snapshots_carry_their_format_and_enums_by_name) {
  const json s = Json(proj::Encode(RichStatus()));
  BOOST_TEST(s["projection"] == "status");
  BOOST_TEST(s["format"] == proj::kSnapshotFormat);
  BOOST_TEST(proj::kSnapshotFormat == 3u);
  json status = s;
  const json& u = UpgradeIn(status, {0xc0de, 1});
  BOOST_TEST(u["phase"] == "rolling_back");
  BOOST_TEST(u["cause"] == "aborted");
  BOOST_TEST(u["level"] == "Strict");
  BOOST_TEST(u["strategy"]["kind"] == "Canary");
  BOOST_TEST(u["steps"] == json({"succeeded", "failed", "pending"}));
  BOOST_TEST(u["target"]["type"] == "Service");
  BOOST_TEST(u["target"]["executor"] == "Agent");
  const json r = Json(proj::Encode(RichRegistry()));
  BOOST_TEST(r["format"] == proj::kSnapshotFormat);
  BOOST_TEST(r["components"]["db"]["spec"]["type"] == "Service");
  const json st = Json(proj::Encode(RichStatistics()));
  BOOST_TEST(st["projection"] == "statistics");
  BOOST_TEST(st["format"] == proj::kSnapshotFormat);
  // Format 3: durations as a histogram, [bucket, count] pairs; no list of every one.
  BOOST_TEST(st["overall"]["durations"] == json::parse(R"({"count": 2, "min_ns": 10, "max_ns": 20,
                                                            "buckets": [[10, 1], [20, 1]]})"));
  BOOST_TEST(!st["overall"].contains("durations_ns"));
}

// Blobs written by 0.1.0 (format 1: no version, enums as numbers) from the
// same values (tests/data/snapshot-format-1, made with that release's codec).
BOOST_AUTO_TEST_CASE(format_1_blobs_of_release_0_1_decode) {
  const std::string dir = SNAPSHOT_FORMAT1_DIR;
  const std::string status_blob = ReadFile(dir + "/status.msgpack");
  json old = Json(status_blob);
  BOOST_TEST(!old.contains("format"));
  BOOST_TEST(UpgradeIn(old, {0xc0de, 1})["phase"] == 3);  // kRollingBack, by number
  proj::Registry r;
  proj::Status s;
  proj::Statistics st;
  BOOST_TEST(proj::Decode(ReadFile(dir + "/registry.msgpack"), &r).ToString() == "OK");
  BOOST_TEST(proj::Decode(status_blob, &s).ToString() == "OK");
  BOOST_TEST(proj::Decode(ReadFile(dir + "/statistics.msgpack"), &st).ToString() == "OK");
  BOOST_TEST((r == RichRegistry()));
  BOOST_TEST((s == RichStatus()));
  BOOST_TEST((st == RichStatistics()));
}

// Fields a later build added are missing from an older blob: they take the
// struct's defaults, at every depth.
BOOST_AUTO_TEST_CASE(missing_fields_take_their_defaults) {
  json j = Json(proj::Encode(RichStatus()));
  j.erase("queued");
  json& u = UpgradeIn(j, {0xc0de, 1});
  u["strategy"].erase("weights");
  u["target"]["hooks"]["swap"].erase("timeout_ms");
  u["target"].erase("artifact_require_signature");
  u["plan"][1].erase("instance");
  u.erase("id");  // the map's key says it
  u["parent"] = nullptr;  // null is missing too
  j["recent"][1].erase("reason");
  proj::Status expected = RichStatus();
  expected.queued.clear();
  proj::Upgrade& e = expected.upgrades.at({0xc0de, 1});
  e.strategy.weights.clear();
  e.target.hooks["swap"].timeout_ms = proj::Hook{}.timeout_ms;
  e.target.artifact_require_signature = false;
  e.plan[1].instance.clear();
  e.parent = {};
  expected.recent[1].reason.clear();
  proj::Status s;
  const Status st = proj::Decode(Blob(j), &s);
  BOOST_TEST(st.ok(), st.ToString());
  BOOST_TEST((s == expected));

  // A blob with nothing but its name decodes to an empty projection.
  proj::Registry r = RichRegistry();
  BOOST_TEST(proj::Decode(Blob({{"projection", "registry"}, {"format", 2}}), &r).ok());
  BOOST_TEST((r == proj::Registry{}));
}

// Fields this build does not know (written by a later one) are ignored.
BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored_at_every_depth) {
  json j = Json(proj::Encode(RichStatus()));
  j["added_later"] = {{"any", "shape"}};
  json& u = UpgradeIn(j, {0xc0de, 1});
  u["added_later"] = 1;
  u["strategy"]["added_later"] = json::array({1, 2});
  u["target"]["hooks"]["swap"]["added_later"] = "x";
  u["plan"][0]["added_later"] = false;
  j["recent"][0]["added_later"] = nullptr;
  proj::Status s;
  BOOST_TEST(proj::Decode(Blob(j), &s).ok());
  BOOST_TEST((s == RichStatus()));
  json st = Json(proj::Encode(RichStatistics()));
  st["overall"]["added_later"] = 3.5;
  st["open"][0][1]["added_later"] = "y";
  proj::Statistics stats;
  BOOST_TEST(proj::Decode(Blob(st), &stats).ok());
  BOOST_TEST((stats == RichStatistics()));
}

BOOST_AUTO_TEST_CASE(enums_decode_by_name_or_by_number) {
  json j = Json(proj::Encode(RichStatus()));
  json& u = UpgradeIn(j, {0xc0de, 1});
  u["phase"] = static_cast<int>(proj::Phase::kRollingBack);
  u["strategy"]["kind"] = static_cast<int>(fb::StrategyKind::Canary);
  u["target"]["type"] = static_cast<int>(fb::ComponentType::Service);
  u["steps"] = json::array({2, "failed", 0});  // mixed: each element on its own
  proj::Status s;
  BOOST_TEST(proj::Decode(Blob(j), &s).ok());
  BOOST_TEST((s == RichStatus()));
}

// A format this build does not know: NotSupported naming both versions, so
// the caller can skip the snapshot. *out is left alone.
BOOST_AUTO_TEST_CASE(a_newer_format_is_not_supported) {
  json j = Json(proj::Encode(RichStatus()));
  j["format"] = proj::kSnapshotFormat + 1;
  proj::Status s = RichStatus();
  s.seq = 7;
  const Status st = proj::Decode(Blob(j), &s);
  BOOST_TEST(st.IsNotSupported(), st.ToString());
  BOOST_TEST(st.message().find("format 4") != std::string::npos, st.message());
  BOOST_TEST(st.message().find("formats 1 to 3") != std::string::npos, st.message());
  BOOST_TEST(s.seq == 7u);
  proj::Registry r;
  BOOST_TEST(proj::Decode(Blob({{"projection", "registry"}, {"format", 1000}}), &r).IsNotSupported());
}

BOOST_AUTO_TEST_CASE(damaged_blobs_are_corruption_never_a_throw) {
  const std::string good = proj::Encode(RichStatus());
  auto edited = [&](const std::function<void(json&)>& edit) {
    json j = Json(good);
    edit(j);
    return Blob(j);
  };
  const proj::Id id{0xc0de, 1};
  std::string deep(100'000, '\x91');  // an array in an array in ... (msgpack fixarray of 1)
  deep += '\xc0';
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"not msgpack", "definitely not a snapshot"},
      {"truncated", good.substr(0, good.size() / 2)},
      {"trailing bytes", good + "x"},
      {"nested 100000 deep", deep},
      {"not a map", Blob(json::array({1, 2}))},
      {"another projection", Blob({{"projection", "registry"}})},
      {"no projection", edited([](json& j) { j.erase("projection"); })},
      {"format not a number", edited([](json& j) { j["format"] = "two"; })},
      {"format 0", edited([](json& j) { j["format"] = 0; })},
      {"unknown phase name", edited([&](json& j) { UpgradeIn(j, id)["phase"] = "exploded"; })},
      {"phase number out of range", edited([&](json& j) { UpgradeIn(j, id)["phase"] = 99; })},
      {"phase negative", edited([&](json& j) { UpgradeIn(j, id)["phase"] = -1; })},
      {"phase a float", edited([&](json& j) { UpgradeIn(j, id)["phase"] = 2.5; })},
      {"weight beyond uint8", edited([&](json& j) { UpgradeIn(j, id)["weight"] = 256; })},
      {"string for a number", edited([](json& j) { j["seq"] = "41"; })},
      {"bad id", edited([](json& j) { j["busy"]["db"] = "xyz"; })},
      {"id pair not a pair", edited([](json& j) { j["upgrades"][0] = json::array({"00"}); })},
      {"id filed under another", edited([&](json& j) { UpgradeIn(j, id)["id"] = proj::Id{1, 1}.hex(); })},
      {"steps do not match the plan", edited([&](json& j) { UpgradeIn(j, id)["steps"].erase(0); })},
      {"revert beyond the plan", edited([&](json& j) { UpgradeIn(j, id)["reverts"] = json::array({7}); })},
      {"list where a map goes", edited([](json& j) { j["points"] = json::array(); })},
  };
  for (const auto& [name, blob] : cases) {
    proj::Status s = RichStatus();
    Status st;
    BOOST_CHECK_NO_THROW(st = proj::Decode(blob, &s));
    BOOST_TEST(st.IsCorruption(), name << ": " << st.ToString());
    BOOST_TEST((s == RichStatus()), name << ": *out changed");
  }
  // The message says where.
  proj::Status s;
  const Status st = proj::Decode(edited([&](json& j) { UpgradeIn(j, id)["phase"] = "exploded"; }), &s);
  BOOST_TEST(st.message().find("upgrades[000000000000c0de0000000000000001].phase: unknown value \"exploded\"") != std::string::npos, st.message());
}

// Format 2 kept every duration (durations_ns); each becomes a histogram entry.
BOOST_AUTO_TEST_CASE(format_2_duration_lists_become_histogram_entries) {
  json j = Json(proj::Encode(RichStatistics()));
  j["format"] = 2;
  j["overall"].erase("durations");
  j["overall"]["durations_ns"] = json::array({5, 7, 9000, 9000});
  j["per_component"]["shop"].erase("durations");
  j["per_component"]["shop"]["durations_ns"] = json::array();
  proj::Statistics st;
  const Status decoded = proj::Decode(Blob(j), &st);
  BOOST_REQUIRE_MESSAGE(decoded.ok(), decoded.ToString());
  const proj::DurationHistogram& h = st.overall.durations;
  BOOST_TEST(h.count == 4u);
  BOOST_TEST(h.min_ns == 5);
  BOOST_TEST(h.max_ns == 9000);
  BOOST_TEST(h.CountIn(proj::DurationHistogram::BucketOf(9000)) == 2u);
  BOOST_TEST(st.per_component.at("shop").durations.count == 0u);
  // And it is written back as format 3.
  proj::Statistics again;
  BOOST_TEST(proj::Decode(proj::Encode(st), &again).ok());
  BOOST_TEST((again == st));
}

// A histogram whose parts disagree would answer percentiles for values it
// does not hold: Corruption, naming where.
BOOST_AUTO_TEST_CASE(inconsistent_histograms_do_not_decode) {
  const std::vector<std::pair<std::string, std::function<void(json&)>>> cases = {
      {"count beyond the buckets", [](json& j) { j["overall"]["durations"]["count"] = 3; }},
      {"bucket past the last", [](json& j) { j["overall"]["durations"]["buckets"][0][0] = 100'000; }},
      {"empty bucket", [](json& j) { j["per_component"]["shop"]["durations"]["buckets"][0][1] = 0; }},
      {"bucket twice", [](json& j) { j["overall"]["durations"]["buckets"][1][0] = 10; }},
      {"not a pair", [](json& j) { j["overall"]["durations"]["buckets"][0] = json::array({10}); }},
      {"min above max", [](json& j) { j["overall"]["durations"]["min_ns"] = 50; }},
  };
  for (const auto& [name, edit] : cases) {
    json j = Json(proj::Encode(RichStatistics()));
    edit(j);
    proj::Statistics st;
    const Status s = proj::Decode(Blob(j), &st);
    BOOST_TEST(s.IsCorruption(), name << ": " << s.ToString());
    BOOST_TEST(s.message().find("durations") != std::string::npos, name << ": " << s.message());
  }
}

// The bound statistics.h states: a percentile read from the histogram is
// within 1/128 of the exact nearest-rank value, over durations from
// nanoseconds to days.
BOOST_AUTO_TEST_CASE(histogram_percentiles_stay_within_the_stated_bound) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 20; ++round) {
    std::vector<int64_t> values;
    proj::DurationHistogram h;
    const int n = 1 + static_cast<int>(rng() % 5000);
    for (int i = 0; i < n; ++i) {
      // Log-uniform over 1 ns .. about 3 days: every scale of bucket.
      const double exponent = std::uniform_real_distribution<double>(0, 48)(rng);
      values.push_back(static_cast<int64_t>(std::exp2(exponent)));
      h.Add(values.back());
    }
    std::sort(values.begin(), values.end());
    BOOST_TEST(h.count == values.size());
    BOOST_TEST(h.min_ns == values.front());
    BOOST_TEST(h.max_ns == values.back());
    for (const double p : {0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0}) {
      const size_t rank = std::max<size_t>(1, static_cast<size_t>(p * values.size() + 0.999999));
      const double exact = static_cast<double>(values[rank - 1]);
      const double got = static_cast<double>(h.Percentile(p));
      BOOST_TEST(std::abs(got - exact) <= exact / 128, "p" << p << " of " << n << ": " << got << " for " << exact);
    }
  }
  // Every value lands in the bucket whose bounds hold it.
  for (const int64_t v : {int64_t{0}, int64_t{127}, int64_t{128}, int64_t{129}, int64_t{1} << 40,
                          std::numeric_limits<int64_t>::max()}) {
    const uint32_t b = proj::DurationHistogram::BucketOf(v);
    BOOST_TEST(b < proj::DurationHistogram::kBuckets);
    BOOST_TEST(proj::DurationHistogram::LowerBound(b) <= v);
    BOOST_TEST(v - proj::DurationHistogram::LowerBound(b) < proj::DurationHistogram::Width(b));
  }
}

// However many upgrades end, a tally (and so its snapshot) stays the same size.
BOOST_AUTO_TEST_CASE(statistics_snapshots_stay_small_however_long_the_log) {
  proj::Statistics s;
  std::mt19937_64 rng(5);
  size_t after_10k = 0;
  for (int i = 1; i <= 1'000'000; ++i) {
    // 1 ms .. 1 hour
    const auto d = static_cast<int64_t>(std::exp2(std::uniform_real_distribution<double>(20, 41.7)(rng)));
    s.overall.durations.Add(d);
    if (i == 10'000) after_10k = proj::Encode(s).size();
  }
  const size_t after_1m = proj::Encode(s).size();
  BOOST_TEST_MESSAGE("statistics snapshot: " << after_10k << " bytes after 10,000 durations, " << after_1m
                                             << " after 1,000,000");
  BOOST_TEST(s.overall.durations.buckets.size() <= 22u * 64u);  // 64 per power of two
  BOOST_TEST(after_1m < 16u * 1024u);                            // 8 bytes a duration would be 8 MB
  BOOST_TEST(after_1m < after_10k + 8192);  // counts grow a few bytes wider, no more
}
