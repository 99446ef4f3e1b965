// Data directories written by past releases (tests/data/release-*, made by
// tools/dev/make-compat-data.sh) open with this build: the chain verifies,
// every stored snapshot decodes to what the log says, the engine answers
// with what that release answered (expected.json), and the canary it left
// paused is promoted to completion by the real hook executor.
// The committed directories are never touched: each run works on a copy.
//
// Time: an upgrade's deadline runs on the wall clock (started_ns +
// timeout_ms), so a canary paused in data written long ago has timed out by
// the time any later build opens it. The engine is opened with its clock
// set to just after the log's last event (EngineOptions::clock); hook
// timeouts use the monotonic clock, untouched.
#define BOOST_TEST_MODULE compat
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/projections/codec.h"
#include "support/test_support.h"
#include "support/typed_answers.h"

using namespace noodle;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

int64_t SystemNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

namespace {

std::vector<fs::path> ReleaseDirs() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(COMPAT_DATA_ROOT)) {
    if (e.is_directory() && e.path().filename().string().starts_with("release-")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

json ReadJson(const fs::path& p) {
  std::ifstream in(p);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << p);
  return json::parse(in);
}

// ---- the typed answers as 0.1.0's JSON views (expected.json) -------------
// Every field that release answered, from the typed answer of this build.

using test::Str;

// "RolledBack" -> "rolled_back": 0.1.0 named phases, step states and outcomes so.
std::string Snake(const char* name) {
  std::string out;
  for (const char* c = name; *c != '\0'; ++c) {
    if (std::isupper(static_cast<unsigned char>(*c)) != 0 && c != name) out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
  }
  return out;
}

json OldComponent(const fb::ComponentInfo& info) {
  const proj::Component c = proj::FromSpec(*info.spec());
  json deps = json::array();
  for (const auto& d : c.dependencies) deps.push_back({{"name", d.name}, {"range", d.range}});
  json hooks = json::object();
  for (const auto& [name, h] : c.hooks) hooks[name] = {{"argv", h.argv}, {"shell", h.shell}, {"timeout_ms", h.timeout_ms}};
  return {{"name", c.name}, {"version", c.version}, {"type", fb::EnumNameComponentType(c.type)},
          {"hot_swappable", c.hot_swappable}, {"critical", c.critical}, {"dependencies", deps},
          {"artifact_location", c.artifact_location}, {"artifact_sha256", c.artifact_sha256},
          {"artifact_require_signature", c.artifact_require_signature}, {"metadata", c.metadata},
          {"executor", fb::EnumNameExecutorKind(c.executor)}, {"hooks", hooks}, {"instances", c.instances},
          {"registered_seq", info.registered_seq()}, {"updated_seq", info.updated_seq()}};
}

json OldRegistry(const fb::RegistryResult& r) {
  json components = json::array();
  for (const auto* c : *r.components()) components.push_back(OldComponent(*c));
  return {{"seq", r.seq()}, {"components", components}};
}

json OldUpgrade(const fb::UpgradeInfo& u) {
  json j = {{"id", IdToHex(*u.id())}, {"component", Str(u.component())}, {"from", Str(u.from_version())},
            {"to", Str(u.to_version())}, {"phase", Snake(fb::EnumNamePhase(u.phase()))}, {"reason", Str(u.reason())}};
  if (u.phase() >= fb::Phase::Completed) {  // ended: 0.1.0's summary
    j["duration_ms"] = static_cast<double>(u.finished_ns() - u.requested_ns()) / 1e6;
    return j;
  }
  json steps = json::array();
  for (flatbuffers::uoffset_t i = 0; i < u.steps()->size(); ++i) {
    const auto* s = u.steps()->Get(i);
    steps.push_back({{"step", i}, {"action", Str(s->action())}, {"instance", Str(s->instance())},
                     {"weight", s->weight()}, {"state", Snake(fb::EnumNameStepState(s->state()))}});
  }
  j.update({{"strategy", fb::EnumNameStrategyKind(u.strategy())}, {"priority", u.priority()}, {"weight", u.weight()},
            {"steps", steps}, {"reverts_left", u.reverts_left()}, {"requested_seq", u.requested_seq()},
            {"parent", u.parent() != nullptr ? json(IdToHex(*u.parent())) : json()}});
  return j;
}

json OldStatus(const fb::StatusResult& s) {
  json active = json::array(), recent = json::array(), rollbacks = json::array();
  json points = json::object(), agents = json::object();
  for (const auto* u : *s.active()) active.push_back(OldUpgrade(*u));
  for (const auto* u : *s.recent()) recent.push_back(OldUpgrade(*u));
  for (const auto* p : *s.points()) points[p->name()->str()] = p->seq();
  for (const auto* r : *s.rollbacks()) {
    rollbacks.push_back({{"id", IdToHex(*r->id())}, {"point", Str(r->point())}, {"to_seq", r->to_seq()},
                         {"failed", Str(r->failed())}});
  }
  for (const auto* a : *s.agents()) {
    json instances = json::array();
    if (a->instances() != nullptr) {
      for (const auto* i : *a->instances()) instances.push_back(i->str());
    }
    agents[a->name()->str()] = instances;
  }
  return {{"seq", s.seq()}, {"active", active}, {"recent", recent}, {"history_count", s.history_count()},
          {"points", points}, {"rollbacks", rollbacks}, {"agents", agents}};
}

json OldTally(const flatbuffers::Vector<flatbuffers::Offset<fb::OutcomeCount>>* outcomes, const fb::Durations& d) {
  json counts = json::object();
  for (const auto* o : *outcomes) counts[Snake(fb::EnumNameOutcome(o->outcome()))] = o->count();
  const auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  return {{"outcomes", counts},
          {"durations", {{"count", d.count()}, {"min_ms", ms(d.min_ns())}, {"median_ms", ms(d.median_ns())},
                         {"p95_ms", ms(d.p95_ns())}, {"max_ms", ms(d.max_ns())}}}};
}

json OldStatistics(const fb::StatisticsResult& s) {
  json j = OldTally(s.outcomes(), *s.durations());
  json per = json::object();
  for (const auto* c : *s.per_component()) per[c->component()->str()] = OldTally(c->outcomes(), *c->durations());
  j.update({{"seq", s.seq()}, {"in_flight", s.in_flight()}, {"per_component", per}});
  return j;
}

// 0.1.0 kept every duration and answered exact percentiles; this build's
// histogram answers median and p95 within 1/128 (min, max and count exact).
// Checked here, then set to the expected values for the whole comparison.
void CheckDurations(json& got, const json& expected) {
  json& d = got["durations"];
  const json& e = expected["durations"];
  BOOST_TEST(d["count"] == e["count"]);
  BOOST_TEST(d["min_ms"] == e["min_ms"]);
  BOOST_TEST(d["max_ms"] == e["max_ms"]);
  for (const char* p : {"median_ms", "p95_ms"}) {
    const double want = e[p].get<double>();
    BOOST_TEST(std::abs(d[p].get<double>() - want) <= want / 128, p << ": " << d[p] << " for " << want);
    d[p] = e[p];
  }
}

template <typename T>
json Typed(engine::Engine& e, std::string command, json (*old_view)(const T&)) {
  const engine::Reply r = e.Execute(std::move(command));
  return old_view(test::Answer<T>(r));
}

// Each snapshot set in the log decodes, and equals the log folded to its seq.
void CheckSnapshots(const store::EventLog& log) {
  size_t sets = 0;
  for (uint64_t at = log.LastSeq(); at > 0 && sets < 10'000; ++sets) {
    auto status_snap = log.GetSnapshot(proj::Status::kName, at);
    if (!status_snap.ok()) break;
    const uint64_t seq = status_snap->seq;
    at = seq - 1;
    BOOST_TEST_CONTEXT("snapshot at seq " << seq) {
      auto reg_snap = log.GetSnapshot(proj::Registry::kName, seq);
      auto stats_snap = log.GetSnapshot(proj::Statistics::kName, seq);
      BOOST_REQUIRE(reg_snap.ok() && reg_snap->seq == seq);
      BOOST_REQUIRE(stats_snap.ok() && stats_snap->seq == seq);
      engine::State state;
      proj::Statistics stats;
      auto it = log.Scan(1, seq);
      for (; it->Valid(); it->Next()) {
        engine::Evolve(state, *it->envelope());
        proj::Evolve(stats, *it->envelope());
      }
      BOOST_REQUIRE(it->status().ok());
      proj::Registry r;
      proj::Status s;
      proj::Statistics st;
      BOOST_TEST(proj::Decode(reg_snap->blob, &r).ToString() == "OK");
      BOOST_TEST(proj::Decode(status_snap->blob, &s).ToString() == "OK");
      BOOST_TEST(proj::Decode(stats_snap->blob, &st).ToString() == "OK");
      BOOST_TEST((r == state.registry));
      BOOST_TEST((s == state.status));
      BOOST_TEST((st == stats));
    }
  }
  BOOST_TEST(sets >= 2u, "the data should hold snapshots");
}

// What the release answered, this build answers: the typed answers hold
// every field of that release's JSON views, with the same values.
void CheckAnswers(engine::Engine& engine, const json& expected) {
  BOOST_TEST(Typed(engine, engine::cmd::QueryRegistry(), OldRegistry) == expected["registry"]);
  BOOST_TEST(Typed(engine, engine::cmd::QueryStatus(), OldStatus) == expected["status"]);
  json stats = Typed(engine, engine::cmd::QueryStatistics(), OldStatistics);
  CheckDurations(stats, expected["statistics"]);
  for (auto& [name, tally] : stats["per_component"].items()) {
    CheckDurations(tally, expected["statistics"]["per_component"][name]);
  }
  BOOST_TEST(stats == expected["statistics"]);
  for (const auto& [hex, phase] : expected["upgrades"].items()) {
    auto id = IdFromHex(hex);
    BOOST_REQUIRE(id.has_value());
    BOOST_TEST(Typed(engine, engine::cmd::QueryStatus(proj::Id::From(&*id)), OldUpgrade)["phase"] == phase, hex);
  }
}

// The paused canary goes on: promoted, its remaining steps run their hooks
// (record-version.sh writes to root).
void PromoteCanary(engine::Engine& engine, const json& expected, const std::string& root) {
  auto canary_hex = IdFromHex(expected["paused_canary"].get<std::string>());
  BOOST_REQUIRE(canary_hex.has_value());
  const proj::Id canary = proj::Id::From(&*canary_hex);
  const auto before_promote = engine.Current();  // paused points into it
  const proj::Upgrade* paused = before_promote.status.find(canary);
  BOOST_REQUIRE(paused != nullptr);
  BOOST_TEST((paused->phase == proj::Phase::kPaused));
  const std::string component = paused->component, to = paused->to_version;
  for (int promotes = 0; promotes < 10; ++promotes) {
    const auto state = engine.Current();
    const proj::Upgrade* u = state.status.find(canary);
    if (u == nullptr) break;
    if (u->phase == proj::Phase::kPaused) {
      const engine::Reply r = engine.Execute(engine::cmd::Promote(canary));
      BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    }
    test::WaitFor([&] {
      const auto current = engine.Current();
      const auto* now = current.status.find(canary);
      return now == nullptr || now->phase == proj::Phase::kPaused;
    });
  }
  const engine::Reply ended = engine.Execute(engine::cmd::QueryStatus(canary));
  BOOST_TEST((test::Answer<fb::UpgradeInfo>(ended).phase() == fb::Phase::Completed), engine::ResultJson(ended));
  BOOST_TEST(engine.Current().registry.find(component)->version == to);
  // record-version.sh ran for the promoted step, in this run's root.
  std::ifstream recorded(root + "/" + component + ".version");
  std::string version;
  recorded >> version;
  BOOST_TEST(version == to);
}

void OpenRelease(const fs::path& release) {
  const json expected = ReadJson(release / "expected.json");
  test::TempDir tmp;
  fs::copy(release / "data", tmp.sub("data"), fs::copy_options::recursive);
  // The hooks are shell lines naming these (see make-compat-data.sh).
  const std::string root = tmp.sub("root");
  fs::create_directories(root);
  setenv("COMPAT_HOOKS", COMPAT_HOOKS_DIR, 1);
  setenv("COMPAT_ROOT", root.c_str(), 1);

  std::unique_ptr<store::EventLog> log;
  Status s = store::EventLog::Open(tmp.sub("data") + "/log", {}, &log);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  const uint64_t last = log->LastSeq();
  BOOST_TEST(last == expected["status"]["seq"].get<uint64_t>());
  uint64_t checked = 0;
  s = log->Verify(1, last, &checked);
  BOOST_TEST(s.ok(), s.ToString());
  BOOST_TEST(checked == last);
  CheckSnapshots(*log);

  auto newest = log->Read(last);
  BOOST_REQUIRE(newest.ok());
  // The data's own time, running on from just after its last event.
  const int64_t shift = newest->envelope()->time_ns() + 1'000'000'000 - SystemNs();
  engine::EngineOptions eo;
  eo.clock = [shift] { return SystemNs() + shift; };

  engine::HookExecutorOptions ho;
  ho.allow_shell = true;
  auto executor = engine::NewHookExecutor(ho);
  std::unique_ptr<engine::Engine> engine;
  s = engine::Engine::Open(log.get(), executor.get(), nullptr, eo, &engine);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());

  CheckAnswers(*engine, expected);
  PromoteCanary(*engine, expected, root);

  engine->Stop();
  engine.reset();
  BOOST_TEST(log->LastSeq() > last);
  s = log->Verify(1, log->LastSeq(), &checked);
  BOOST_TEST(s.ok(), s.ToString());
}

}  // namespace

BOOST_AUTO_TEST_CASE(data_directories_of_past_releases_open) {
  const auto releases = ReleaseDirs();
  BOOST_REQUIRE(!releases.empty());
  for (const auto& release : releases) {
    BOOST_TEST_CONTEXT(release.filename().string()) { OpenRelease(release); }
  }
}
