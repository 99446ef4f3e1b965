// An in-memory world for the pure core: a State, the events decided so far
// (with seqs as the log would assign them), and a clock. No disk, no sockets.
#pragma once

#include <string>
#include <vector>

#include "noodle/protocol/commands.h"
#include "noodle/engine/decider.h"

namespace noodle::test {

class World {
 public:
  engine::State state;
  engine::Limits limits;
  std::vector<std::string> log;  // every event, seq order (seq = index + 1)
  int64_t now_ns = 1'700'000'000'000'000'000;

  // Decides the command (resolving a RollBack against the log), applies its
  // events, then applies Reconcile until it has nothing left to do.
  engine::Decision Run(const std::string& command);
  // Applies Recover's decisions (what a restarted engine does first).
  void Recover();
  // Event type names from log index `from` on.
  std::vector<std::string> TypesSince(size_t from) const;
  const fb::EventEnvelope* Event(size_t index) const { return fb::GetEventEnvelope(log[index].data()); }
  // The registry folded from seq 1 to seq.
  proj::Registry RegistryAt(uint64_t seq) const;

  // Shorthands. Each fails the running test if the command is rejected.
  void Register(const proj::Component& c);
  proj::Id Upgrade(engine::cmd::UpgradeRequest r);
  void Step(const proj::Id& id, uint32_t step, bool ok = true, const std::string& reason = "");
  const proj::Upgrade* Find(const proj::Id& id) const { return state.status.find(id); }
  // The phase of an upgrade, running or finished ("" when unknown).
  std::string Phase(const proj::Id& id) const;

 private:
  void Apply(engine::Decision& d);
  uint64_t internal_ids_ = 0;
};

// A hook-executed component with a swap hook: `name`@`version`.
proj::Component MakeComponent(const std::string& name, const std::string& version,
                              std::vector<proj::Dependency> deps = {});

}  // namespace noodle::test
