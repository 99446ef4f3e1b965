// Properties over random command sequences: projections rebuilt from seq 1
// equal the live ones exactly; state_at(seq) from the nearest snapshot equals
// the fold from seq 1; snapshots round-trip; the status stays consistent.
#define BOOST_TEST_MODULE engine_property
#include <boost/test/unit_test.hpp>

#include <random>

#include "noodle/projections/codec.h"
#include "noodle/projections/statistics.h"
#include "support/world.h"

using namespace noodle;
using engine::cmd::UpgradeRequest;
using test::World;

namespace {

const char* const kNames[] = {"db", "cache", "api", "auth", "web", "edge"};

struct Driver {
  std::mt19937_64 rng;
  World w;
  proj::Statistics live_stats;  // folded as events arrive, like the engine does
  size_t stats_folded = 0;
  uint64_t next_id = 1;

  explicit Driver(uint64_t seed) : rng(seed) {}
  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); }
  bool Chance(int percent) { return static_cast<int>(Pick(100)) < percent; }
  engine::cmd::Meta Meta() { return {{0xC0DE, next_id++}, 0, "prop"}; }

  std::string Bump(const std::string& v) {
    int a = 0, b = 0, c = 0;
    std::sscanf(v.c_str(), "%d.%d.%d", &a, &b, &c);
    switch (Pick(4)) {
      case 0: return std::to_string(a + 1) + ".0.0";
      case 1: return std::to_string(a) + "." + std::to_string(b + 1) + ".0";
      case 2: return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c + 1);
      default: return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c > 0 ? c - 1 : c);
    }
  }

  const proj::Upgrade* RandomUpgrade() {
    if (w.state.status.upgrades.empty()) return nullptr;
    auto it = w.state.status.upgrades.begin();
    std::advance(it, Pick(w.state.status.upgrades.size()));
    return &it->second;
  }

  void Step() {
    const uint64_t kind = Pick(100);
    const auto& reg = w.state.registry.components;
    if (kind < 10 || reg.size() < 2) {
      const std::string name = kNames[Pick(6)];
      std::vector<proj::Dependency> deps;
      for (const auto& [n, e] : reg) {
        if (n != name && Chance(30)) deps.push_back({n, Chance(50) ? "^" + e.spec.version : "*"});
      }
      auto c = test::MakeComponent(name, std::to_string(1 + Pick(3)) + "." + std::to_string(Pick(5)) + ".0", deps);
      if (Chance(30)) c.instances = {"i1", "i2", "i3"};
      c.hot_swappable = !Chance(15);
      w.Run(engine::cmd::Register(c, Meta()));
    } else if (kind < 35) {
      auto it = reg.begin();
      std::advance(it, Pick(reg.size()));
      UpgradeRequest r;
      r.upgrade_id = {0xAB, next_id};
      r.component = it->first;
      r.target_version = Bump(it->second.spec.version);
      r.strategy = static_cast<fb::StrategyKind>(Pick(5));
      r.steps = 1 + static_cast<uint32_t>(Pick(3));
      r.weights = {10, 50, 100};
      r.pause_ms = Chance(50) ? 0 : 1000;
      r.max_unavailable = 1 + static_cast<uint32_t>(Pick(2));
      r.priority = static_cast<int32_t>(Pick(5));
      r.timeout_ms = 2000 + static_cast<uint32_t>(Pick(5000));
      r.rollback_enabled = !Chance(10);
      r.level = static_cast<fb::ValidationLevel>(Pick(2));
      r.allow_breaking = Chance(50);
      r.dry_run = Chance(5);
      w.Run(engine::cmd::Upgrade(r, Meta()));
    } else if (kind < 75) {
      const proj::Upgrade* u = RandomUpgrade();
      if (u == nullptr) return;
      for (uint32_t s = 0; s < u->steps.size(); ++s) {
        if (u->steps[s] == proj::StepState::kRunning) {
          engine::cmd::StepReport rep;
          rep.upgrade_id = u->id;
          rep.step = s;
          rep.succeeded = Chance(85);
          w.Run(engine::cmd::StepResult(rep, Meta()));
          return;
        }
      }
      if (u->revert_running) {
        engine::cmd::StepReport rep;
        rep.upgrade_id = u->id;
        rep.step = u->RevertStepNumber(u->reverts.front());
        rep.succeeded = Chance(95);
        w.Run(engine::cmd::StepResult(rep, Meta()));
      }
    } else if (kind < 80) {
      if (const proj::Upgrade* u = RandomUpgrade()) w.Run(engine::cmd::Promote(u->id, Meta()));
    } else if (kind < 84) {
      if (const proj::Upgrade* u = RandomUpgrade()) {
        w.Run(Chance(50) ? engine::cmd::Cancel(u->id, "prop", Meta()) : engine::cmd::Abort(u->id, "prop", Meta()));
      }
    } else if (kind < 88) {
      if (const proj::Upgrade* u = RandomUpgrade()) w.Run(engine::cmd::Health(u->id, "i1", Chance(70), "", Meta()));
    } else if (kind < 92) {
      w.now_ns += static_cast<int64_t>(Pick(4000)) * 1'000'000;
      if (const proj::Upgrade* u = RandomUpgrade()) w.Run(engine::cmd::Timer(u->id, Chance(50) ? "deadline" : "pause", Meta()));
    } else if (kind < 95) {
      w.Run(engine::cmd::Point("p" + std::to_string(next_id), Meta()));
    } else if (kind < 98) {
      if (!w.state.status.points.empty() && Chance(50)) {
        w.Run(engine::cmd::RollBack(w.state.status.points.begin()->first, 0, 0, "prop", Meta()));
      } else if (!w.log.empty()) {
        w.Run(engine::cmd::RollBack("", 1 + Pick(w.log.size()), 0, "prop", Meta()));
      }
    } else {
      w.Recover();
    }
  }

  void FoldStats() {
    for (; stats_folded < w.log.size(); ++stats_folded) proj::Evolve(live_stats, *w.Event(stats_folded));
  }
};

engine::State FoldFrom(const World& w, const engine::State& start, uint64_t from_seq, uint64_t to_seq) {
  engine::State s = start;
  for (uint64_t seq = from_seq; seq <= to_seq; ++seq) {
    // Replay from the bytes as they would come back from the log.
    const std::string copy = w.log[seq - 1];
    engine::Evolve(s, *fb::GetEventEnvelope(copy.data()));
  }
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(rebuild_from_seq_1_equals_the_live_projections) {
  size_t total_events = 0, ended = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    Driver d(seed);
    for (int i = 0; i < 250; ++i) {
      d.Step();
      d.FoldStats();
    }
    total_events += d.w.log.size();
    ended += d.w.state.status.history_count;
    const engine::State rebuilt = FoldFrom(d.w, {}, 1, d.w.log.size());
    BOOST_TEST_CONTEXT("seed " << seed) {
      BOOST_TEST((rebuilt.registry == d.w.state.registry));
      BOOST_TEST((rebuilt.status == d.w.state.status));
      proj::Statistics stats;
      for (size_t k = 0; k < d.w.log.size(); ++k) proj::Evolve(stats, *d.w.Event(k));
      BOOST_TEST((stats == d.live_stats));
      std::map<std::string, uint32_t> queued;
      for (const auto& [id, u] : d.w.state.status.upgrades) queued[u.component] += u.phase == proj::Phase::kQueued;
      std::erase_if(queued, [](const auto& kv) { return kv.second == 0; });
      BOOST_TEST((queued == d.w.state.status.queued));
      // Every validated unfinished upgrade holds its component, and only it
      for (const auto& [name, id] : d.w.state.status.busy) {
        const auto* u = d.w.state.status.find(id);
        BOOST_TEST((u != nullptr && u->component == name && u->phase != proj::Phase::kQueued));
      }
    }
  }
  // The sequences did reach the interesting places
  BOOST_TEST(total_events > 5000u);
  BOOST_TEST(ended > 100u);
}

BOOST_AUTO_TEST_CASE(state_at_seq_from_a_snapshot_equals_the_fold_from_seq_1) {
  constexpr uint64_t kEvery = 7;
  for (uint64_t seed = 100; seed < 130; ++seed) {
    Driver d(seed);
    for (int i = 0; i < 200; ++i) d.Step();
    const uint64_t last = d.w.log.size();
    // Snapshots every kEvery events, encoded as the engine stores them
    std::vector<std::pair<uint64_t, std::string>> reg_snaps, status_snaps;
    engine::State s;
    for (uint64_t seq = 1; seq <= last; ++seq) {
      engine::Evolve(s, *d.w.Event(seq - 1));
      if (seq % kEvery == 0) {
        reg_snaps.emplace_back(seq, proj::Encode(s.registry));
        status_snaps.emplace_back(seq, proj::Encode(s.status));
      }
    }
    for (int probe = 0; probe < 20 && last > 0; ++probe) {
      const uint64_t at = 1 + d.Pick(last);
      engine::State from_snapshot;
      uint64_t base = 0;
      for (size_t k = 0; k < reg_snaps.size() && reg_snaps[k].first <= at; ++k) {
        base = reg_snaps[k].first;
        BOOST_REQUIRE(proj::Decode(reg_snaps[k].second, &from_snapshot.registry).ok());
        BOOST_REQUIRE(proj::Decode(status_snaps[k].second, &from_snapshot.status).ok());
      }
      const engine::State via_snapshot = FoldFrom(d.w, from_snapshot, base + 1, at);
      const engine::State via_seq1 = FoldFrom(d.w, {}, 1, at);
      BOOST_TEST_CONTEXT("seed " << seed << " at " << at << " snapshot " << base) {
        BOOST_TEST((via_snapshot.registry == via_seq1.registry));
        BOOST_TEST((via_snapshot.status == via_seq1.status));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_damaged_snapshot_is_corruption_not_a_crash) {
  Driver d(7);
  for (int i = 0; i < 100; ++i) d.Step();
  std::string blob = proj::Encode(d.w.state.status);
  proj::Status out;
  BOOST_TEST(proj::Decode(blob, &out).ok());
  BOOST_TEST((out == d.w.state.status));
  proj::Registry wrong;
  BOOST_TEST(proj::Decode(blob, &wrong).IsCorruption());  // another projection's blob
  std::mt19937_64 rng(3);
  for (int i = 0; i < 300; ++i) {
    std::string bad = blob.substr(0, rng() % blob.size());
    if (i % 2 && !bad.empty()) bad[rng() % bad.size()] ^= 0x5A;
    proj::Status s;
    const auto st = proj::Decode(bad, &s);
    BOOST_TEST((st.ok() || st.IsCorruption()));
  }
}
