// An oracle for the engine's projections. The test folds the events it reads
// back from the log into this model with rules of its own, written from the
// events' meaning (schemas/events.fbs), not with proj::Evolve. So when a
// projection drops or misreads an event, the live state and a rebuild still
// agree with each other (same fold) but no longer with the model.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "noodle/engine/decider.h"
#include "noodle/projections/statistics.h"
#include "noodle/projections/status.h"

namespace noodle::test {

// What the log says about one upgrade.
struct UpgradeFacts {
  std::string component, from_version, to_version;
  proj::Id parent;
  std::string phase = "queued";  // as proj::PhaseName spells it
  bool ended = false;
  bool validated = false;
  uint64_t events = 0;  // events of its stream
  fb::Event last = fb::Event::NONE;
  uint64_t requested_seq = 0;
  int64_t requested_ns = 0;
  std::vector<std::string> steps;  // per plan step: pending, running, succeeded, failed
  std::vector<uint32_t> reverts;   // plan steps still to revert
  bool revert_running = false;
  uint8_t weight = 0;
  uint32_t unhealthy = 0;
};

struct ComponentFacts {
  std::string version;
  std::set<std::string> depends_on;
  uint64_t registered_seq = 0, updated_seq = 0;
};

class Model {
 public:
  // Folds one event read back from the log. Events must come in seq order
  // from 1; anything the lifecycle does not allow (a result for a step that
  // is not running, an event for an upgrade that ended) lands in problems.
  void Apply(const fb::EventEnvelope& e);

  // How the projections differ from the model; empty when they agree.
  std::vector<std::string> Diff(const engine::State& s) const;
  std::vector<std::string> Diff(const proj::Statistics& st) const;

  // Upgrade ids in the order they were requested (a stable order to pick from).
  const std::vector<proj::Id>& order() const { return order_; }
  const UpgradeFacts* upgrade(const proj::Id& id) const {
    auto it = upgrades_.find(id);
    return it == upgrades_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, ComponentFacts>& components() const { return components_; }
  const std::map<std::string, uint64_t>& points() const { return points_; }
  const std::set<proj::Id>& open_rollbacks() const { return open_rollbacks_; }
  uint64_t seq() const { return seq_; }
  uint64_t count(fb::Event type) const {
    auto it = counts_.find(type);
    return it == counts_.end() ? 0 : it->second;
  }
  uint64_t stream_events(const std::string& stream) const {
    auto it = streams_.find(stream);
    return it == streams_.end() ? 0 : it->second;
  }
  size_t ended() const { return ended_.size(); }
  // Upgrades not ended whose plan steps (or revert) are running, as
  // (upgrade, step number) with reverts numbered plan size + k.
  std::set<std::pair<proj::Id, uint32_t>> RunningSteps() const;
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  void ApplyRegistry(const fb::EventEnvelope& e);
  void ApplyLifecycle(const fb::EventEnvelope& e);
  void ApplyEnd(const fb::EventEnvelope& e, bool upgrade_stream);
  UpgradeFacts* Live(const fb::Id128* id, const char* what);
  void Step(const fb::EventEnvelope& e);
  void End(const proj::Id& id, UpgradeFacts& u, const std::string& phase, int64_t now);
  void Stop(const fb::Id128* id, const char* phase, bool rollback, int64_t now);
  void Register(const proj::Component& c, uint64_t seq, bool upgrade);
  void DiffUpgrades(const proj::Status& st, std::vector<std::string>& out) const;
  void Problem(std::string what) { problems_.push_back("seq " + std::to_string(seq_) + ": " + std::move(what)); }

  uint64_t seq_ = 0;
  std::map<proj::Id, UpgradeFacts> upgrades_;
  std::vector<proj::Id> order_;
  std::vector<std::pair<proj::Id, std::string>> ended_;  // end order, with the phase ended in
  std::vector<int64_t> durations_;                        // request to end, in end order
  std::map<std::string, std::vector<int64_t>> durations_by_component_;
  std::map<std::string, ComponentFacts> components_;
  std::map<std::string, uint64_t> points_;
  std::set<proj::Id> open_rollbacks_;
  std::map<std::string, std::vector<std::string>> agents_;
  std::map<std::string, uint64_t> streams_;
  std::map<fb::Event, uint64_t> counts_;
  // Rollback ends on upgrade streams (the others end rollbacks to a point).
  uint64_t upgrade_rollbacks_completed_ = 0, upgrade_rollbacks_failed_ = 0;
  std::map<std::string, std::map<std::string, uint64_t>> outcomes_by_component_;
  std::vector<std::string> problems_;
};

}  // namespace noodle::test
