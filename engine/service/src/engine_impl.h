// The engine service's writer: one thread takes commands from the inbox and
// decides a round of them against its own (speculative) state; the
// committer appends the round's events in one group-commit write while the
// writer decides the next round; then the writer hands the stored events and
// the replies to the read side, the events to the bus and the started steps
// to the executor. Queries never come here (query_side.h). Internal.
//   engine.cc       open, load, the writer's loop, stop, the disk guard
//   round.cc        one round: decide (while the round before is appended)
//   round_finish.cc settle a stored round: answer, publish, dispatch
//   round_committer the thread that appends a decided round
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
#include "round_committer.h"
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
    bool defer = false;     // a retry of a command still being stored: decided in a later round
  };
  // A round: its commands, what was decided for them, and what its answers
  // and dispatch need once it is stored. Never moved while in use (pending
  // points into batch).
  struct RoundWork {
    std::deque<InboxItem> batch;
    std::vector<Pending> pending;
    std::vector<store::BatchAppend> appends;
    std::vector<std::pair<size_t, StepRequest>> steps;  // StepStarted events, by append index
    std::set<std::string> created;                       // streams the round creates
    std::set<proj::Id> command_ids;                      // commands decided in it
    uint64_t first_seq = 0;                              // the seq its first event gets
    size_t events = 0;
    bool recover = false;   // holds the start's recovery
    bool redo = false;      // the round before it was not stored: decide it again
    bool appended = false;  // the committer is done with it
    bool verified = false;  // stored exactly as decided (checked before the next round was handed over)
  };

  // engine.cc
  void Run();
  // block: waits for commands or a due timer. Else waits only while a round
  // is being appended, for commands that come meanwhile.
  // At most limit commands.
  std::deque<InboxItem> NextBatch(bool block, size_t limit);
  bool LogBackUp();
  std::string RefuseForDisk(const fb::CommandEnvelope& cmd);
  void Rebuild();
  int64_t Now() const;
  Context NewContext(const proj::Id& command_id, const std::string& actor);
  proj::Id InternalId();

  // round.cc
  // Decides the batch while the round before it is appended, settles that
  // one, then hands this one to the committer (or answers it at once when
  // it appends nothing).
  void Round(std::deque<InboxItem> batch, bool recover);
  void DecideRound(RoundWork& w, bool recover);
  // Takes more commands into w while the committer is busy: the writer
  // decides instead of waiting.
  void DecideWhileCommitting(RoundWork& w);
  void DecideOne(InboxItem& item, RoundWork& w);
  void Refuse(InboxItem& item, const fb::CommandEnvelope& cmd, const Denial& denial, const std::string& actor,
              Pending& p, RoundWork& w);
  // True when the decision cannot be appended because a stream it creates
  // exists: *reply is then the original answer when this command created it
  // (a retry after a restart), else a Conflict.
  bool AlreadyStored(const Decision& d, const proj::Id& command_id, const RoundWork& w, Reply* reply);
  // Folds the decision's events into the state with the seqs they will get.
  void ApplySpeculatively(Decision& d, RoundWork& w);
  // The steps the round's StepStarted events start, as of the end of its decide.
  void CaptureSteps(RoundWork& w);

  // round_finish.cc
  // Waits for the round in flight and finishes it. False when the state was
  // put back to the log's (a batch not stored): whatever was decided after
  // that round must be decided again.
  bool FinishInFlight();
  // Waits for the round in flight; true when the log stored it exactly as
  // decided (every batch, at the seqs it was given, nothing else): the next
  // round can then be handed over before this one is settled.
  bool InFlightStoredAsDecided();
  void WaitAppended(RoundWork& w);
  bool Finish(RoundWork& w);
  // After the append: the stored events, in order; the state put back to
  // the durable one when a batch was not stored (*failed); *rebuilt when the
  // log was not what was decided and everything was rebuilt from it.
  std::shared_ptr<std::vector<std::string>> Settle(RoundWork& w, bool* rebuilt, bool* failed);
  void Answer(RoundWork& w, DurableRound& round);
  void Dispatch(const std::vector<std::string>& stored, const RoundWork& w);
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
  uint64_t next_seq_ = 1;         // the seq the next decided event will get (ahead of the log in flight)
  int64_t now_ns_ = 0;
  RefusalLimiter refusals_{options_.refusals_recorded_per_second};
  ReplyCache replies_{options_.replies_kept};
  Timers timers_;
  bool timers_armed_ = false;
  std::set<proj::Id> touched_;    // upgrades this round's events changed: their timers are re-armed
  std::unique_ptr<RoundCommitter> committer_;
  std::unique_ptr<RoundWork> in_flight_;  // handed to the committer, not yet settled
  std::deque<InboxItem> deferred_;        // retries of commands that were being stored
  bool recovered_ = false;        // the start's recovery is durable
  std::string log_down_;          // why the log cannot be written; empty: it can
  std::deque<InboxItem> held_;    // step results waiting for the log
  int64_t free_checked_ns_ = 0;
  uint64_t free_bytes_ = UINT64_MAX;
};

}  // namespace noodle::engine
