// The engine service: one writer thread takes commands, decides, appends the
// events (one group-commit write per round of commands), publishes them once
// durable, hands started steps to the executor and feeds step results and
// timers back in as commands. A projector thread folds the durable events
// into immutable versions of the projections; query threads answer from the
// newest one, so reads never wait for writes.
//
// On Open it rebuilds the projections from their snapshots plus the log,
// then recovers: steps that were running when the last engine stopped fail
// (their upgrades roll back) and interrupted reverts run again, so no upgrade
// stays in progress forever after a crash.
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "noodle/engine/decider.h"
#include "noodle/engine/executor.h"
#include "noodle/principal.h"
#include "noodle/projections/statistics.h"
#include "noodle/protocol/reply.h"
#include "noodle/status.h"
#include "noodle/store/event_log.h"

namespace noodle::engine {

// Watches the engine for logs and metrics. Each call runs on one of the
// engine's threads, so it must be cheap and must not block.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // Writer thread, after each round's append: how long the log took to make
  // the round's `events` durable (group commit and fsync included), and
  // whether every batch was stored.
  virtual void Appended(std::chrono::nanoseconds took, size_t events, bool stored) = 0;
  // Projector thread, in seq order: events once durable and in the published
  // state (the replies they answer already sent); `state` is as of the last
  // of them. Called once at start with no events and the rebuilt state.
  // Events a rebuild from the log takes in (never expected) are not seen.
  virtual void Durable(const std::vector<std::string>& events, const State& state) = 0;
};

struct EngineOptions {
  Limits limits;
  // Events between snapshots of the projections. Smaller: faster restarts and
  // state_at, more encoding work and disk (each snapshot holds every projection).
  uint64_t snapshot_every = 10'000;
  // For a large state, at least this many events per item of state (a
  // component, an upgrade, a summary) between snapshots: writing one costs
  // about as much per item as folding a few events, so this keeps snapshots
  // a small share of the work; a restart or state_at folds up to that many
  // events more. 0: every snapshot_every events whatever the state's size.
  uint64_t snapshot_events_per_item = 16;
  // Commands decided per round (one log write). Larger rounds amortize the
  // fsync further but delay the first reply of the round.
  size_t max_round_commands = 512;
  // Who the engine's own decisions (reconcile, recover, timers) are by.
  std::string actor = "engine";
  // Refused commands recorded as CommandRefused events per second at most;
  // the rest are counted into the next recorded one. Bounds the log growth a
  // flood of refused commands can cause (~200 bytes per event).
  uint32_t refusals_recorded_per_second = 10;
  // RequestUpgrade and RegisterComponent are refused (Unavailable: low disk)
  // while the log's filesystem has less than this free, so that upgrades
  // already in flight always have room to finish or roll back (their step
  // results and rollbacks are never refused for it). 0: no guard. Costs a
  // statvfs every 250 ms at most.
  uint64_t min_free_bytes = 0;
  // While the log cannot be written (disk full), step results of the
  // engine's own executors wait in memory, at most this many, and are
  // recorded once it can; past it (or if the daemon stops first) the next
  // start records those steps as interrupted, as after a crash.
  size_t max_held_results = 100'000;
  // The wall clock, in ns since the epoch, that stamps events and runs the
  // upgrades' deadlines and pauses. Empty: the system clock. Set it to open
  // old data as of when it was written (tests, investigations); it must
  // not go backwards.
  std::function<int64_t()> clock;
  // Replies of recent commands kept by command id, so that a retry gets the
  // original reply instead of a second decision. Each costs its reply
  // (~100-300 bytes for most commands); past it, the oldest go.
  size_t replies_kept = 65'536;
  // Threads answering queries and planning rollbacks from the newest
  // durable state, beside the writer (never waiting for it). Each is a
  // thread with its stack; queries of a client arrive in order but may be
  // answered out of order past 1.
  size_t query_threads = 2;
  // The largest encoded reply a query gets. Listings (the registry, status,
  // statistics, a stream's events) stop before it and say where to go on
  // (Reply::next); one entry alone larger than it (a component, an upgrade)
  // is refused Unavailable, naming it, so keep it well above the largest
  // component spec or upgrade plan. A page is built, copied and sent whole
  // by a query thread: larger means fewer round trips for big listings but
  // more memory per reply (engine, bus, client). Keep it below the bus's largest message
  // (bus::ServerOptions::max_message_bytes, 4 MB). Below 4 KiB counts as 4 KiB.
  size_t max_reply_bytes = size_t{1} << 20;
  // Sees appends and durable events (may be null); outlives the engine.
  EngineObserver* observer = nullptr;
};

class Engine {
 public:
  // log: opened read-write, outlives the engine. executor and publisher
  // (either may be null) outlive the engine too.
  // Corruption: a snapshot or event does not decode (the log stays untouched).
  static Status Open(store::EventLog* log, Executor* executor, EventPublisher* publisher, const EngineOptions& options,
                     std::unique_ptr<Engine>* engine);
  virtual ~Engine() = default;

  // Thread-safe. Takes a CommandEnvelope buffer sent by `who`; the reply is
  // ready once the command's events are durable (or it was rejected).
  // Malformed bytes get an Invalid reply; a command `who` may not send gets
  // Unauthorized (and a CommandRefused event, see
  // refusals_recorded_per_second). The events' actor is who.name, never the
  // envelope's actor (for an unauthenticated principal: "local:" + it).
  // After Stop, replies are Unavailable.
  virtual std::future<Reply> Submit(std::string command, Principal who) = 0;
  // The same, with the reply handed to done, on one of the engine's threads
  // or, for a status query, on the caller's before Submit returns; done must
  // not block. It is called exactly once, also after Stop.
  virtual void Submit(std::string command, Principal who, std::function<void(Reply)> done) = 0;
  // In-process callers without a bus: Principal::Local().
  std::future<Reply> Submit(std::string command) { return Submit(std::move(command), Principal::Local()); }
  Reply Execute(std::string command) { return Submit(std::move(command)).get(); }
  Reply Execute(std::string command, Principal who) { return Submit(std::move(command), std::move(who)).get(); }

  // Copies of the projections as of the newest durable round, consistent
  // with each other; every command whose reply was sent is in them.
  // Thread-safe.
  virtual State Current() const = 0;
  virtual proj::Statistics Statistics() const = 0;
  // Registry and status as of seq: the nearest snapshot at or below it, then
  // the log up to seq. Thread-safe; reads the log, not the live state.
  virtual Result<State> StateAt(uint64_t seq) const = 0;

  // Finishes the round in progress and stops the writer thread. Idempotent.
  // Steps still running go on in the executor (its owner decides their end);
  // their results are not recorded.
  virtual void Stop() = 0;
  // A graceful stop: from now on commands from outside are refused
  // (Unavailable: stopping); for up to `grace`, the steps the executor runs
  // may finish and their results are recorded (a result may start the next
  // step, which runs too). Then the executor abandons what still runs (kills
  // the hooks' process groups) and the writer stops; the next start records
  // those steps as interrupted. Returns within grace plus one round.
  virtual void Stop(std::chrono::milliseconds grace) = 0;
};

}  // namespace noodle::engine
