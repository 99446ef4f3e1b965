// Who may do what: the one place a command's principal is checked against
// its roles and, for agents, against what they announced. Runs in the
// engine before decide; pure (reads the state, no I/O). Thread-safe.
//
//   any role    queries (status, registry, statistics, a stream's events)
//   operator    start, cancel, promote, abort upgrades; rollback points; rollbacks
//   admin       register and deregister components; any upgrade whose
//               target changes what runs (ChangesWhatRuns); a rollback to a
//               point that registers, deregisters or changes what runs
//   agent       AnnounceAgent under its own name only; ReportStepResult and
//               ReportHealth only for a running step of an Agent-executed
//               upgrade on an instance that agent announced
//   engine      everything (its executors' outcomes and its timers); TimerFired
//               is the engine's alone
// A client without a keys file (Principal::unauthenticated) holds every role;
// its reports are not tied to an agent name, since it has none.
#pragma once

#include <optional>
#include <string>

#include "noodle/engine/decider.h"
#include "noodle/principal.h"

namespace noodle::engine {

struct Denial {
  std::string missing_role;  // "operator", ...; "" when the role is held but not the right to this object
  std::string reason;        // complete on its own: "alice (observer) may not RequestUpgrade: needs operator"
};

// nullopt: allowed.
std::optional<Denial> Authorize(const Principal& who, const fb::CommandEnvelope& cmd, const State& state);

// True when target differs from now (null: not registered) in what runs and
// where: hooks, the plugin, the executor, the instances, or by dropping
// require_signature. Versions, dependencies and artifacts are an operator's.
bool ChangesWhatRuns(const proj::Component& target, const proj::Component* now);

// A RollBack once resolved (the engine reads the log first): an operator may
// only bring versions back; a rollback that registers or deregisters
// components or changes what runs (as above) needs admin.
std::optional<Denial> AuthorizeRollback(const Principal& who, const RollbackTarget& target, const State& state);

// True for the read-only commands (queries).
bool IsQuery(fb::Command type);

// The refusal as a decision: rejected Unauthorized with the denial's reason,
// and, when record is set, a CommandRefused event on "security/refusals"
// carrying `suppressed` (refusals not recorded since the previous one).
Decision Refuse(const Principal& who, fb::Command type, const Denial& denial, bool record, uint32_t suppressed,
                const Context& ctx);

// How many refusals become events: at most per_second in any one-second
// window of event time; the rest are counted and the count rides on the next
// recorded refusal. Not thread-safe (the engine's writer thread owns it).
class RefusalLimiter {
 public:
  explicit RefusalLimiter(uint32_t per_second = 10) : per_second_(per_second) {}
  // True: record this refusal, with *suppressed refusals dropped before it.
  bool Admit(int64_t now_ns, uint32_t* suppressed);
  uint64_t dropped_total() const { return dropped_total_; }

 private:
  uint32_t per_second_;
  int64_t window_start_ns_ = 0;
  uint32_t in_window_ = 0;
  uint32_t suppressed_ = 0;
  uint64_t dropped_total_ = 0;
};

}  // namespace noodle::engine
