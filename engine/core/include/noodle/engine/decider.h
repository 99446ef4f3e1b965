// The decider: the upgrade lifecycle as pure functions.
//   Decide(command, state)  -> events to append (or a rejection)
//   Evolve(state, event)    -> state
//   Reconcile(state)        -> the next piece of work the state alone calls for
//   Recover(state)          -> what to do with steps a stopped engine left running
// No I/O, no clock, no randomness: time and ids come in with the Context, so
// the same inputs always give the same events. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "noodle/fb/commands_generated.h"
#include "noodle/fb/events_generated.h"
#include "noodle/projections/registry.h"
#include "noodle/projections/status.h"

namespace noodle::engine {

// What the decider reads: the registry and the upgrades not yet ended.
struct State {
  proj::Registry registry;
  proj::Status status;
  bool operator==(const State&) const = default;
};
void Evolve(State& s, const fb::EventEnvelope& e);

// Policy the decider enforces. Defaults suit one engine on one machine.
struct Limits {
  // Upgrades running at once (all components); more wait, highest priority first.
  uint32_t max_running = 64;
  uint32_t min_timeout_ms = 1'000;
  uint32_t max_timeout_ms = 7u * 24 * 3600 * 1000;  // a week
  int32_t max_abs_priority = 1'000;
  uint32_t max_hook_timeout_ms = 24u * 3600 * 1000;
  uint32_t max_pause_ms = 24u * 3600 * 1000;
  // The hook policy of the daemon's hook executor, checked at registration
  // for components it runs (executor Hook) so a spec it would refuse is
  // refused up front (codes shell_hook_forbidden, hook_outside_roots).
  // Lexical checks only; the executor checks again, with realpath, before
  // any hook runs. Defaults check nothing: the executor is the guard.
  std::vector<std::string> hook_roots;  // empty: argv[0] is not checked here
  bool allow_shell_hooks = true;
};

struct Context {
  int64_t now_ns = 0;        // stamped on every event
  std::string actor;         // who caused it (the authenticated identity)
  proj::Id command_id;       // event ids derive from it; causation id of the events
  proj::Id correlation_id;   // carried into events that have no upgrade of their own
};

// A validation code's wire name ("breaking_change"): the snake_case form of
// its schema name. "" for Unspecified and values this build does not know.
const std::string& ValidationCodeName(fb::ValidationCode c);
// The code a wire name names; Unspecified when it names none.
fb::ValidationCode ValidationCodeFromName(std::string_view name);

// One reason a request is refused. A refusal lists every one of them.
struct Issue {
  Issue() = default;
  Issue(fb::ValidationCode k, std::string f, std::string m)
      : code(ValidationCodeName(k)), field(std::move(f)), message(std::move(m)), kind(k) {}
  // As read from the wire (a reply, an older event): the kind from the code.
  Issue(std::string c, std::string f, std::string m)
      : code(std::move(c)), field(std::move(f)), message(std::move(m)), kind(ValidationCodeFromName(code)) {}

  std::string code;     // the wire name of kind, what clients match on
  std::string field;    // which part of the request, when it is one field
  std::string message;  // for humans, complete on its own
  fb::ValidationCode kind = fb::ValidationCode::Unspecified;
};

// The events of one stream, appended as one batch.
struct StreamEvents {
  std::string stream;
  bool new_stream = false;          // the stream must not exist yet
  std::vector<std::string> events;  // EventEnvelope buffers (noodle::FinishEvent)
};

struct Decision {
  std::vector<StreamEvents> appends;
  // Set when the command is refused. Appends may still be non-empty: a
  // validation failure is recorded (UpgradeRequested + UpgradeRejected).
  bool rejected = false;
  fb::RejectCode code = fb::RejectCode::Invalid;
  std::string message;
  std::vector<Issue> errors;
  std::vector<proj::Id> ids;  // ids the command created (upgrade, rollback)
  std::string result_json;    // dry run: the validation result and the plan
};

// What the engine looked up in the log for a RollBack (the decider has no log):
// the seq it resolves to and the registry as it was at that seq.
struct RollbackTarget {
  uint64_t to_seq = 0;
  std::string point;
  proj::Registry registry;
};

// Decides one command. Queries are not commands here (the engine answers them
// from the projections); they get an Invalid rejection.
Decision Decide(const fb::CommandEnvelope& cmd, const State& state, const Context& ctx, const Limits& limits,
                const RollbackTarget* rollback = nullptr);

// The next piece of work the state calls for, if any: a rollback to a point
// moving on to its next component, or a queued upgrade starting (highest
// priority, then oldest, while fewer than max_running run). Apply its events
// and call again until it returns nothing.
std::optional<Decision> Reconcile(const State& state, const Context& ctx, const Limits& limits);

// After a restart: steps that were running when the engine stopped have an
// unknown outcome. Plan steps fail (and the upgrade rolls back when it may);
// interrupted reverts run again (reverts must be idempotent). One decision
// per affected upgrade.
std::vector<Decision> Recover(const State& state, const Context& ctx);

// The stream an upgrade's events go to.
std::string UpgradeStream(const proj::Id& id);

}  // namespace noodle::engine
