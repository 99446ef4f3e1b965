// A round after its append: settle the speculative state against what the
// log stored, publish the stored events, start their steps, and answer
// (through the read side, once the events can be read).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine_impl.h"
#include "noodle/envelope.h"
#include "noodle/protocol/commands.h"

namespace noodle::engine {
namespace {

bool AllStored(const std::vector<store::BatchAppend>& appends) {
  return std::all_of(appends.begin(), appends.end(), [](const auto& a) { return a.status.ok(); });
}

// The seq after the round's stored batches when they lie end to end from the
// seq the round was given (batches not stored are skipped); 0 when one was
// stored before (a duplicate) or elsewhere.
uint64_t StoredEnd(const std::vector<store::BatchAppend>& appends, uint64_t first_seq) {
  uint64_t expect = first_seq;
  for (const auto& a : appends) {
    if (!a.status.ok()) continue;
    if (a.result.duplicate || a.result.seqs.front() != expect) return 0;
    expect += a.result.seqs.size();
  }
  return expect;
}

}  // namespace

bool EngineImpl::FinishInFlight() {
  std::unique_ptr<RoundWork> w = std::move(in_flight_);
  WaitAppended(*w);
  return Finish(*w);
}

void EngineImpl::WaitAppended(RoundWork& w) {
  if (w.appended) return;
  const auto took = committer_->Wait();
  w.appended = true;
  if (options_.observer != nullptr) options_.observer->Appended(took, w.events, AllStored(w.appends));
}

bool EngineImpl::InFlightStoredAsDecided() {
  RoundWork& w = *in_flight_;
  WaitAppended(w);
  // LastSeq is read while the committer is idle: nothing else is being appended.
  const uint64_t end = StoredEnd(w.appends, w.first_seq);
  w.verified = AllStored(w.appends) && end == log_->LastSeq() + 1 && end == next_seq_;
  return w.verified;
}

bool EngineImpl::Finish(RoundWork& w) {
  DurableRound round;
  bool rebuilt = false, failed = false;
  if (!w.appends.empty()) {
    auto stored = Settle(w, &rebuilt, &failed);
    if (!stored->empty()) Dispatch(*stored, w);
    if (!rebuilt) round.events = std::move(stored);  // else the rebuilt version has them
  }
  if (w.recover && AllStored(w.appends)) recovered_ = true;
  Answer(w, round);
  if (round.events != nullptr || !round.answers.empty()) read_->Hand(std::move(round));
  ArmTimers();
  return !rebuilt && !failed;
}

std::shared_ptr<std::vector<std::string>> EngineImpl::Settle(RoundWork& w, bool* rebuilt, bool* failed) {
  auto stored = std::make_shared<std::vector<std::string>>();
  for (auto& a : w.appends) {
    if (a.status.code() == Status::Code::kUnavailable) {
      if (log_down_.empty()) {
        spdlog::error("engine: the log cannot be written ({}); commands that change state are refused, queries go "
                      "on, and step results wait in memory until it can",
                      a.status.message());
      }
      log_down_ = a.status.message();
    } else if (!a.status.ok()) {
      spdlog::error("engine: append to {} failed: {}", a.stream, a.status.ToString());
    }
    *failed = *failed || !a.status.ok();
    if (!a.status.ok()) continue;
    for (auto& e : a.result.events) stored->push_back(std::move(e));
  }
  // Checked before the next round was handed over; the log now holds that
  // one too, in part or whole.
  if (w.verified) return stored;
  // The next round is handed over only after this one is settled: the next
  // decided event follows the log's last.
  next_seq_ = log_->LastSeq() + 1;
  if (StoredEnd(w.appends, w.first_seq) != next_seq_) {
    // Not what was decided (a batch stored twice, another writer): the log
    // is the truth. Never expected; the read side is rebuilt with it.
    spdlog::warn("engine: the log differs from the decided round; rebuilding the state from the log");
    Rebuild();
    *rebuilt = true;
    return stored;
  }
  if (*failed) {
    // The speculative state holds events that were not stored: back to the
    // durable state (the newest version plus what this round stored).
    read_->Drain();
    State durable = read_->Latest()->state;
    for (const auto& bytes : *stored) Evolve(durable, *fb::GetEventEnvelope(bytes.data()));
    state_ = std::move(durable);
    timers_armed_ = false;
  }
  return stored;
}

void EngineImpl::Answer(RoundWork& w, DurableRound& round) {
  const auto& appends = w.appends;
  for (auto& p : w.pending) {
    if (p.defer) {
      deferred_.push_back(std::move(*p.item));
      continue;
    }
    bool stored = true;
    for (size_t k = p.first_append; k < p.first_append + p.append_count; ++k) {
      const auto& a = appends[k];
      if (!a.status.ok()) {
        // Not acknowledged; a retry with the same command id is safe.
        stored = false;
        const bool unavailable = a.status.code() == Status::Code::kUnavailable;
        p.hold = p.holdable && unavailable;
        p.reply = Rejected(a.status.IsConflict() ? fb::RejectCode::Conflict : fb::RejectCode::Unavailable,
                           unavailable ? a.status.message() : "events not stored: " + a.status.ToString());
        break;
      }
      for (uint64_t seq : a.result.seqs) p.reply.seqs.push_back(seq);
    }
    if (p.hold) {
      if (held_.size() < options_.max_held_results) {
        held_.push_back(std::move(*p.item));
      } else {
        spdlog::error("engine: more than {} step results wait for the log; this one is dropped (the next start "
                      "records its step as interrupted)",
                      options_.max_held_results);
      }
      continue;
    }
    if (p.cacheable && stored) replies_.Remember(p.command_id, p.reply);
    round.answers.emplace_back(std::move(*p.item), std::move(p.reply));
  }
}

void EngineImpl::Dispatch(const std::vector<std::string>& stored, const RoundWork& w) {
  if (publisher_ != nullptr) publisher_->Publish(stored);
  if (executor_ == nullptr) return;
  for (const auto& step : w.steps) {
    const StepRequest& req = step.second;  // a name, not a binding: lambdas capture it
    const store::BatchAppend& a = w.appends[step.first];
    if (!a.status.ok() || a.result.duplicate) continue;  // not stored by this round
    std::weak_ptr<Inbox> inbox = inbox_;
    const std::string actor = options_.actor;
    // A graceful stop waits for the steps this process runs; an agent's
    // result comes over the bus, which a stopping engine no longer takes.
    const bool in_process = req.to.executor != fb::ExecutorKind::Agent;
    if (in_process) {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      ++inbox_->steps_out;
    }
    executor_->Start(req, [inbox, req, actor, in_process](StepOutcome o) {
      auto in = inbox.lock();
      if (!in) return;
      for (auto& c : cmd::OutcomeCommands({req.upgrade_id, req.step, req.instance}, o, {{}, 0, actor})) {
        in->Push(InboxItem{std::move(c), Principal::Engine(actor), {}, {}, {}});
      }
      if (!in_process) return;
      std::lock_guard<std::mutex> lock(in->mu);  // after the results are in: a stop waits for both
      --in->steps_out;
      in->settled.notify_all();
    });
  }
}

void EngineImpl::ArmTimers() {
  if (!timers_armed_) {  // the first round after a (re)load: every upgrade
    for (const auto& [id, u] : state_.status.upgrades) touched_.insert(id);
    timers_armed_ = true;
  }
  for (const auto& id : touched_) timers_.Rearm(id, state_.status.find(id));
  touched_.clear();
}

}  // namespace noodle::engine
