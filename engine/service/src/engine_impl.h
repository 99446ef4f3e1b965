// The engine service's writer: one thread takes commands from the inbox,
// decides a round of them against its own (speculative) state, appends the
// round's events in one group-commit write, then hands the stored events and
// the replies to the read side, the events to the bus and the started steps
// to the executor. Queries never come here (query_side.h). Internal.
//   engine.cc       open, load, the writer's loop, stop, the disk guard
//   round.cc        one round: decide, append, answer, dispatch
#pragma once

#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "inbox.h"
#include "noodle/engine/authorize.h"
#include "noodle/engine/engine.h"
#include "query_side.h"
#include "read_side.h"
#include "reply_cache.h"
#include "snapshot_writer.h"
#include "timers.h"

namespace noodle::engine {

class EngineImpl final : public Engine {
 public:
  EngineImpl(store::EventLog* log, Executor* executor, EventPublisher* publisher, EngineOptions options);
  ~EngineImpl() override { Stop(); }

  // Rebuilds the state from snapshots and the log, then starts the threads.
  Status Start();

  using Engine::Submit;
  std::future<Reply> Submit(std::string command, Principal who) override;
  void Submit(std::string command, Principal who, std::function<void(Reply)> done) override;
  // Verifies the command once and sends it where it is answered.
  void Route(InboxItem item);
  State Current() const override { return read_->Latest()->state; }
  proj::Statistics Statistics() const override { return read_->Latest()->stats; }
  Result<State> StateAt(uint64_t seq) const override;
  void Stop(std::chrono::milliseconds grace) override;
  void Stop() override;

 private:
  // A command decided in this round, waiting for its events to be durable.
  struct Pending {
    InboxItem* item = nullptr;
    bool cacheable = false;  // a decided command (not a query, not malformed)
    proj::Id command_id;
    Reply reply;
    size_t first_append = 0, append_count = 0;
    bool holdable = false;  // the engine's own step result: kept if the log is down
    bool hold = false;      // kept until the log can be written
  };

  // engine.cc
  void Run();
  std::deque<InboxItem> NextBatch();
  bool LogBackUp();
  std::string RefuseForDisk(const fb::CommandEnvelope& cmd);
  void Rebuild();
  int64_t Now() const;
  Context NewContext(const proj::Id& command_id, const std::string& actor);
  proj::Id InternalId();

  // round.cc
  void Round(std::deque<InboxItem> batch, bool recover);
  // One group-commit write of the round, timed for the observer.
  void Append(std::vector<store::BatchAppend>& appends);
  void DecideOne(InboxItem& item, std::vector<Pending>& pending, std::vector<store::BatchAppend>& appends);
  void Refuse(InboxItem& item, const fb::CommandEnvelope& cmd, const Denial& denial, const std::string& actor,
              Pending& p, std::vector<store::BatchAppend>& appends);
  // True when the decision cannot be appended because a stream it creates
  // exists: *reply is then the original answer when this command created it
  // (a retry after a restart), else a Conflict.
  bool AlreadyStored(const Decision& d, const proj::Id& command_id, Reply* reply);
  // Folds the decision's events into the state with the seqs they will get.
  void ApplySpeculatively(Decision& d, std::vector<store::BatchAppend>& appends);
  // After the append: the stored events, in order; the state put back to
  // the durable one when a batch was not stored; *rebuilt when the log was
  // not what was decided and everything was rebuilt from it.
  std::shared_ptr<std::vector<std::string>> Settle(std::vector<store::BatchAppend>& appends, bool* rebuilt);
  void Answer(std::vector<Pending>& pending, const std::vector<store::BatchAppend>& appends, DurableRound& round);
  void Dispatch(const std::vector<std::string>& stored);
  void ArmTimers();

  store::EventLog* const log_;
  Executor* const executor_;
  EventPublisher* const publisher_;
  const EngineOptions options_;
  std::shared_ptr<Inbox> inbox_;
  std::unique_ptr<SnapshotWriter> snapshots_;
  std::unique_ptr<ReadSide> read_;
  std::unique_ptr<QuerySide> queries_;
  std::thread thread_;

  // Writer thread only.
  State state_;                   // speculative: ahead of the log during a round
  uint64_t next_seq_ = 1;         // the seq the next appended event will get
  int64_t now_ns_ = 0;
  RefusalLimiter refusals_{options_.refusals_recorded_per_second};
  ReplyCache replies_{options_.replies_kept};
  Timers timers_;
  bool timers_armed_ = false;
  std::set<proj::Id> touched_;    // upgrades this round's events changed: their timers are re-armed
  std::set<std::string> created_; // streams this round creates
  bool recovered_ = false;        // the start's recovery is durable
  std::string log_down_;          // why the log cannot be written; empty: it can
  std::deque<InboxItem> held_;    // step results waiting for the log
  int64_t free_checked_ns_ = 0;
  uint64_t free_bytes_ = UINT64_MAX;
};

}  // namespace noodle::engine
