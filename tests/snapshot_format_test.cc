// Snapshots that another build wrote, or that were damaged, on a real log
// with the real engine: a blob missing a field or carrying an unknown one is
// used as it is; a garbage blob or one of a newer format is skipped for an
// older snapshot (or seq 1). Whatever happens, the engine's state after
// reopening equals the log folded from seq 1.
#define BOOST_TEST_MODULE snapshot_format
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/projections/codec.h"
#include "support/test_support.h"

using namespace noodle;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSnapshotEvery = 3;
const char* const kProjections[] = {proj::Registry::kName, proj::Status::kName, proj::Statistics::kName};

std::unique_ptr<engine::Executor> ShellExecutor() {
  engine::HookExecutorOptions o;
  o.allow_shell = true;  // the hooks below are shell lines
  return engine::NewHookExecutor(o);
}

// A component whose release 1.2.0 fails its health check.
proj::Component Service(const std::string& name) {
  proj::Component c;
  c.name = name;
  c.version = "1.0.0";
  c.type = fb::ComponentType::Service;
  c.hooks["swap"] = proj::Hook{{"echo now $NOODLE_TO"}, true, 20000};
  c.hooks["health"] = proj::Hook{{"test \"$NOODLE_TO\" != 1.2.0 || { echo 1.2.0 is broken; exit 1; }"}, true, 20000};
  return c;
}

// An engine on the log in dir (created when missing), stopped by Close.
struct Rig {
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<engine::Executor> executor = ShellExecutor();
  std::unique_ptr<engine::Engine> engine;

  explicit Rig(const std::string& dir, uint64_t snapshot_every = 10'000) {
    const Status s = store::EventLog::Open(dir, {}, &log);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    engine::EngineOptions o;
    o.snapshot_every = snapshot_every;
    o.snapshot_events_per_item = 0;  // at the seqs asked for, however small the state
    const Status e = engine::Engine::Open(log.get(), executor.get(), nullptr, o, &engine);
    BOOST_REQUIRE_MESSAGE(e.ok(), e.ToString());
  }
  ~Rig() {
    engine.reset();
    executor.reset();
  }
  engine::Reply Ok(std::string command) {
    auto r = engine->Execute(std::move(command));
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    return r;
  }
  proj::Phase PhaseOf(const proj::Id& id) {
    const auto state = engine->Current();
    if (const auto* u = state.status.find(id)) return u->phase;
    for (const auto& r : state.status.recent) {
      if (r.id == id) return r.phase;
    }
    return proj::Phase::kQueued;
  }
  bool WaitPhase(const proj::Id& id, proj::Phase phase) {
    return test::WaitFor([&] { return PhaseOf(id) == phase; });
  }
};

// The history every case starts from: registrations, a rollback point, a
// completed upgrade, one rolled back, a canary paused; snapshots every 3
// events. Made once; cases work on copies.
const std::string& History() {
  static test::TempDir dir;
  static bool made = false;
  if (made) return dir.path();
  made = true;
  Rig rig(dir.sub("log"), kSnapshotEvery);
  rig.Ok(engine::cmd::Register(Service("api")));
  rig.Ok(engine::cmd::Register(Service("web")));
  rig.Ok(engine::cmd::Point("before"));
  engine::cmd::UpgradeRequest r;
  r.component = "api";
  r.target_version = "1.1.0";
  proj::Id done, undone, canary;
  rig.Ok(engine::cmd::Upgrade(r, {}, &done));
  BOOST_REQUIRE(rig.WaitPhase(done, proj::Phase::kCompleted));
  r.target_version = "1.2.0";
  rig.Ok(engine::cmd::Upgrade(r, {}, &undone));
  BOOST_REQUIRE(rig.WaitPhase(undone, proj::Phase::kRolledBack));
  r.component = "web";
  r.target_version = "2.0.0";
  r.allow_breaking = true;
  r.strategy.kind = fb::StrategyKind::Canary;
  r.strategy.weights = {50, 100};
  rig.Ok(engine::cmd::Upgrade(r, {}, &canary));
  BOOST_REQUIRE(rig.WaitPhase(canary, proj::Phase::kPaused));
  return dir.path();
}

// The projections folded from seq 1, with no snapshot involved.
struct Folded {
  engine::State state;
  proj::Statistics stats;
};
Folded FoldFromOne(const store::EventLog& log) {
  Folded f;
  auto it = log.Scan(1);
  for (; it->Valid(); it->Next()) {
    engine::Evolve(f.state, *it->envelope());
    proj::Evolve(f.stats, *it->envelope());
  }
  BOOST_REQUIRE_MESSAGE(it->status().ok(), it->status().ToString());
  BOOST_REQUIRE_EQUAL(f.state.status.seq, log.LastSeq());
  return f;
}

// Seqs of the snapshot sets in the log, newest first.
std::vector<uint64_t> SnapshotSeqs(const store::EventLog& log) {
  std::vector<uint64_t> seqs;
  for (uint64_t at = UINT64_MAX; at > 0 && seqs.size() < 1000;) {
    auto s = log.GetSnapshot(proj::Status::kName, at);
    if (!s.ok()) break;
    seqs.push_back(s->seq);
    at = s->seq - 1;
  }
  return seqs;
}

using Edit = std::function<std::string(const std::string& projection, const std::string& blob)>;

// Copies the history, rewrites the snapshots at `seqs` (default: the newest
// set) with edit, reopens the engine and checks its state against the fold
// from seq 1. Returns the rewritten blobs' decode statuses, by projection.
std::map<std::string, Status> ReopenAfter(const Edit& edit, bool every_set = false) {
  test::TempDir copy;
  fs::copy(History(), copy.path(), fs::copy_options::recursive);
  const std::string dir = copy.sub("log");
  std::map<std::string, Status> decoded;
  {
    std::unique_ptr<store::EventLog> log;
    BOOST_REQUIRE(store::EventLog::Open(dir, {}, &log).ok());
    std::vector<uint64_t> seqs = SnapshotSeqs(*log);
    BOOST_REQUIRE_GE(seqs.size(), 2u);  // so skipping the newest leaves an older one
    if (!every_set) seqs.resize(1);
    for (uint64_t seq : seqs) {
      for (const char* name : kProjections) {
        auto snap = log->GetSnapshot(name, seq);
        BOOST_REQUIRE(snap.ok());
        BOOST_REQUIRE_EQUAL(snap->seq, seq);
        const std::string blob = edit(name, snap->blob);
        BOOST_REQUIRE(log->PutSnapshot(name, seq, blob).ok());
        Status s;
        if (name == std::string(proj::Registry::kName)) {
          proj::Registry r;
          s = proj::Decode(blob, &r);
        } else if (name == std::string(proj::Status::kName)) {
          proj::Status r;
          s = proj::Decode(blob, &r);
        } else {
          proj::Statistics r;
          s = proj::Decode(blob, &r);
        }
        decoded[name] = s;
      }
    }
  }
  Rig rig(dir);
  rig.Ok(engine::cmd::QueryStatus());  // the first round (recovery) is done
  rig.engine->Stop();
  const engine::State state = rig.engine->Current();
  const proj::Statistics stats = rig.engine->Statistics();
  const Folded folded = FoldFromOne(*rig.log);
  BOOST_TEST((state.registry == folded.state.registry));
  BOOST_TEST((state.status == folded.state.status));
  BOOST_TEST((stats == folded.stats));
  // And what the state holds is the history, not an empty engine.
  BOOST_TEST(state.registry.components.size() == 2u);
  BOOST_TEST(state.status.upgrades.size() == 1u);
  BOOST_TEST(state.status.recent.size() == 2u);
  BOOST_TEST(stats.overall.outcomes.at("completed") == 1u);
  return decoded;
}

json Json(const std::string& blob) { return json::from_msgpack(blob); }
std::string Blob(const json& j) {
  const auto bytes = json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

BOOST_AUTO_TEST_CASE(untouched_snapshots_give_the_state_of_the_fold) {
  auto decoded = ReopenAfter([](const std::string&, const std::string& blob) { return blob; });
  for (const auto& [name, s] : decoded) BOOST_TEST(s.ok(), name << ": " << s.ToString());
}

// As written by a build from before these fields existed: defaults, and
// here the defaults are what the fields hold, so the snapshot is used as is.
BOOST_AUTO_TEST_CASE(a_snapshot_missing_fields_is_used) {
  auto decoded = ReopenAfter([](const std::string& name, const std::string& blob) {
    json j = Json(blob);
    if (name == proj::Registry::kName) {
      for (auto& [component, entry] : j["components"].items()) entry["spec"].erase("artifact_require_signature");
    } else if (name == proj::Status::kName) {
      BOOST_REQUIRE(j["agents"].empty() && j["rollbacks"].empty());
      j.erase("agents");
      j.erase("rollbacks");
      for (auto& pair : j["upgrades"]) {
        pair[1].erase("revert_failures");
        pair[1]["target"].erase("artifact_require_signature");
      }
    } else {
      return blob;  // every statistics field holds something here
    }
    return Blob(j);
  });
  for (const auto& [name, s] : decoded) BOOST_TEST(s.ok(), name << ": " << s.ToString());
}

// As written by a later build that added fields.
BOOST_AUTO_TEST_CASE(a_snapshot_with_unknown_fields_is_used) {
  auto decoded = ReopenAfter([](const std::string& name, const std::string& blob) {
    json j = Json(blob);
    j["added_later"] = {{"nested", json::array({1, "two"})}};
    if (name == proj::Registry::kName) {
      for (auto& [component, entry] : j["components"].items()) entry["spec"]["added_later"] = true;
    } else if (name == proj::Status::kName) {
      for (auto& pair : j["upgrades"]) pair[1]["strategy"]["added_later"] = 7;
    } else {
      j["overall"]["added_later"] = "x";
    }
    return Blob(j);
  });
  for (const auto& [name, s] : decoded) BOOST_TEST(s.ok(), name << ": " << s.ToString());
}

// Statistics as the previous format wrote them (format 2: every duration in
// a list, durations_ns): used, the durations becoming histogram entries.
BOOST_AUTO_TEST_CASE(a_format_2_statistics_snapshot_is_used) {
  auto decoded = ReopenAfter([](const std::string& name, const std::string& blob) {
    if (name != proj::Statistics::kName) return blob;
    json j = Json(blob);
    BOOST_REQUIRE(j["format"] == 3);
    j["format"] = 2;
    // The same durations as a list: each bucket's values by its lower bound,
    // the smallest and the largest exact (they are kept exact).
    const auto to_list = [](json& tally) {
      const json h = tally["durations"];
      json list = json::array();
      for (const auto& pair : h["buckets"]) {
        for (uint64_t i = 0; i < pair[1].get<uint64_t>(); ++i) {
          list.push_back(proj::DurationHistogram::LowerBound(pair[0].get<uint32_t>()));
        }
      }
      if (!list.empty()) {
        list.front() = h["min_ns"];
        list.back() = h["max_ns"];
      }
      tally.erase("durations");
      tally["durations_ns"] = list;
    };
    BOOST_REQUIRE(j["overall"]["durations"]["count"] == 2);
    to_list(j["overall"]);
    for (auto& [component, tally] : j["per_component"].items()) to_list(tally);
    return Blob(j);
  });
  BOOST_TEST(decoded[proj::Statistics::kName].ok(), decoded[proj::Statistics::kName].ToString());
}

BOOST_AUTO_TEST_CASE(a_garbage_snapshot_is_skipped) {
  for (const char* damaged : kProjections) {
    BOOST_TEST_CONTEXT("garbage " << damaged) {
      auto decoded = ReopenAfter([damaged](const std::string& name, const std::string& blob) {
        return name == damaged ? std::string("\xc1 not a snapshot") : blob;
      });
      BOOST_TEST(decoded[damaged].IsCorruption(), decoded[damaged].ToString());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_snapshot_of_a_newer_format_is_skipped) {
  auto decoded = ReopenAfter([](const std::string&, const std::string& blob) {
    json j = Json(blob);
    j["format"] = proj::kSnapshotFormat + 1;
    j["renamed_in_a_later_format"] = j["seq"];
    j.erase("seq");
    return Blob(j);
  });
  for (const auto& [name, s] : decoded) BOOST_TEST(s.IsNotSupported(), name << ": " << s.ToString());
}

BOOST_AUTO_TEST_CASE(with_no_usable_snapshot_the_engine_replays_from_seq_1) {
  auto decoded = ReopenAfter([](const std::string&, const std::string& blob) { return blob.substr(0, blob.size() / 2); },
                             /*every_set=*/true);
  for (const auto& [name, s] : decoded) BOOST_TEST(s.IsCorruption(), name << ": " << s.ToString());
}
