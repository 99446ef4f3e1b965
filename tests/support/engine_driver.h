// Drives the real engine (support/engine_harness.h) with random commands
// from a seeded RNG and checks it after every action: the live projections
// against a fold of the events read back from the log and against the
// oracle (support/engine_model.h); the executor's running steps against the
// status; every reply against the log. See tests/engine_property_test.cc.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "noodle/protocol/commands.h"
#include "support/engine_harness.h"
#include "support/engine_model.h"

namespace noodle::test {

// A client command already answered, kept to be sent again.
struct Sent {
  std::string bytes;
  proj::Id command_id;
  engine::Reply reply;
  uint64_t session = 0;
  bool cached = true;  // the engine keeps its reply (see Driver::Send)
  bool wrote = false;  // it caused events
  bool rollback = false;
};

class Driver {
 public:
  Driver(uint64_t seed, uint64_t snapshot_every) : seed_(seed), rng_(seed), rig_(snapshot_every) { rig_.Open(); }

  // One random action, then Check.
  void Act();
  // The live projections against the fold of the log, the model and the executor.
  void Check();
  // A fold from seq 1, then a restart with nothing running: the same state.
  void Finale();

  uint64_t Pick(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return static_cast<int>(Pick(100)) < percent; }
  EngineRig& rig() { return rig_; }
  const EngineRig& rig() const { return rig_; }
  const Model& model() const { return model_; }
  size_t restarts() const { return session_; }

 private:
  // Actions (Act picks one).
  void Register();
  void Deregister();
  void RequestUpgrade();
  void FinishSteps();
  void ReportAsClient();
  void StopUpgrade();
  void Promote();
  void Health();
  void PassTime();
  void Point();
  void RollBack();
  void Query();
  void Retry();
  void Malformed();
  void Unauthorized();
  void Restart();
  void ProbeStateAt();

  // Sends a command and checks its reply against the log.
  engine::Reply Send(const std::string& bytes, const Principal& who = Principal::Local());
  // Folds the events appended since the last call into the model and the fold.
  void CatchUp();
  engine::cmd::Meta Meta() { return {{0xC0DE, next_id_++}, 0, "prop"}; }
  engine::StepOutcome RandomOutcome();
  // A random upgrade the model knows (in progress only, or in `phase`), if any.
  std::optional<proj::Id> SomeUpgrade(bool live_only, const char* phase = nullptr);
  std::string Version(const std::string& name) const;
  void Note(std::string what);
  std::string Where() const;
  uint64_t Caused(const proj::Id& command) const {
    auto it = caused_.find(command);
    return it == caused_.end() ? 0 : it->second;
  }
  std::string LogTail(uint64_t n) const;  // the last n events, one line each

  const uint64_t seed_;
  std::mt19937_64 rng_;
  EngineRig rig_;
  Model model_;
  engine::State fold_;
  proj::Statistics fold_stats_;
  std::map<proj::Id, uint64_t> caused_;  // events per causation (command) id
  std::vector<Sent> sent_;
  std::deque<std::string> trail_;  // the last actions, for failure messages
  uint64_t actions_ = 0, next_id_ = 1, session_ = 0;
};

}  // namespace noodle::test
