#include "engine_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "noodle/envelope.h"
#include "noodle/protocol/commands.h"
#include "snapshot_loader.h"

namespace noodle::engine {

EngineImpl::EngineImpl(store::EventLog* log, Executor* executor, EventPublisher* publisher, EngineOptions options)
    : log_(log), executor_(executor), publisher_(publisher), options_(std::move(options)),
      inbox_(std::make_shared<Inbox>()) {}

namespace {

// The projections from the newest usable snapshot plus the log after it.
Status LoadVersion(const store::EventLog& log, Version* v) {
  const uint64_t base = LoadNewestSnapshot(log, UINT64_MAX, &v->state, &v->stats);
  v->seq = base;
  auto it = log.Scan(base + 1, log.LastSeq());
  for (; it->Valid(); it->Next()) {
    Evolve(v->state, *it->envelope());
    proj::Evolve(v->stats, *it->envelope());
    v->seq = it->seq();
  }
  return it->status();
}

}  // namespace

Status EngineImpl::Start() {
  Version first;
  if (Status s = LoadVersion(*log_, &first); !s.ok()) return s;
  state_ = first.state;
  next_seq_ = first.seq + 1;
  now_ns_ = state_.status.last_time_ns;
  spdlog::info("engine: state rebuilt at seq {}; {} upgrades in progress", first.seq, state_.status.upgrades.size());
  snapshots_ = std::make_unique<SnapshotWriter>(log_);
  committer_ = std::make_unique<RoundCommitter>(log_, [inbox = inbox_.get()] {
    std::lock_guard<std::mutex> lock(inbox->mu);  // the writer may be between its check and its wait
    inbox->cv.notify_all();
  });
  read_ = std::make_unique<ReadSide>(std::move(first), options_.snapshot_every,
                                     options_.snapshot_events_per_item, snapshots_.get(), options_.observer);
  std::weak_ptr<Inbox> inbox = inbox_;
  queries_ = std::make_unique<QuerySide>(read_.get(), log_, options_.max_reply_bytes, options_.query_threads,
                                         [inbox](InboxItem item) {
                                           if (auto in = inbox.lock()) in->Push(std::move(item));
                                         });
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

std::future<Reply> EngineImpl::Submit(std::string command, Principal who) {
  std::promise<Reply> promise;
  auto future = promise.get_future();
  Route(InboxItem{std::move(command), std::move(who), std::move(promise), {}, {}});
  return future;
}

void EngineImpl::Submit(std::string command, Principal who, std::function<void(Reply)> done) {
  Route(InboxItem{std::move(command), std::move(who), {}, std::move(done), {}});
}

void EngineImpl::Route(InboxItem item) {
  const auto* cmd = cmd::VerifyCommand(item.bytes);
  const fb::Command type = cmd != nullptr ? cmd->command_type() : fb::Command::NONE;
  // A status query is answered at once on the caller's thread (the bus's
  // command thread): it reads only the newest version and its reply is
  // bounded, and this spares it two thread hand-offs while the writer is busy.
  if (type == fb::Command::QueryStatus) return queries_->AnswerNow(item);
  if (IsQuery(type) || type == fb::Command::RollBack) return queries_->Push(std::move(item));
  inbox_->Push(std::move(item));
}

Result<State> EngineImpl::StateAt(uint64_t seq) const { return engine::StateAt(*log_, seq); }

int64_t EngineImpl::Now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Context EngineImpl::NewContext(const proj::Id& command_id, const std::string& actor) {
  now_ns_ = std::max(now_ns_ + 1, Now());
  return Context{now_ns_, actor, command_id, {}};
}

proj::Id EngineImpl::InternalId() {
  const fb::Id128 id = NewId();
  return proj::Id::From(&id);
}

std::deque<InboxItem> EngineImpl::NextBatch(bool block, size_t limit) {
  std::deque<InboxItem> batch;
  std::unique_lock<std::mutex> lock(inbox_->mu);
  if (!block) {
    // While a round is appended: commands that come meanwhile, or nothing
    // once it is stored. Once closed, what is queued stays for Stop to answer.
    inbox_->cv.wait(lock, [this] { return !inbox_->items.empty() || inbox_->closed || !committer_->Busy(); });
    while (!inbox_->closed && !inbox_->items.empty() && batch.size() < limit) {
      batch.push_back(std::move(inbox_->items.front()));
      inbox_->items.pop_front();
    }
    return batch;
  }
  inbox_->in_round = false;
  inbox_->settled.notify_all();
  // While the log cannot be written, wake up to retry it (a deadline fixed
  // now: queries no longer pass through here to wake the writer).
  const int64_t retry_at = log_down_.empty() ? INT64_MAX : Now() + 250'000'000;
  auto due = [&] { return std::min(timers_.NextDue(), retry_at); };
  while (!inbox_->closed && inbox_->items.empty() && due() > Now()) {
    const int64_t wait_ns = std::min<int64_t>(due() - Now(), 1'000'000'000);
    inbox_->cv.wait_for(lock, std::chrono::nanoseconds(wait_ns));
  }
  if (inbox_->closed) return batch;
  inbox_->in_round = true;
  while (!inbox_->items.empty() && batch.size() < limit) {
    batch.push_back(std::move(inbox_->items.front()));
    inbox_->items.pop_front();
  }
  return batch;
}

void EngineImpl::Run() {
  Round({}, /*recover=*/true);
  while (true) {
    // With a round being stored, the next is decided from what is there
    // (nothing waits); else the writer sleeps until there is work.
    std::deque<InboxItem> batch =
        NextBatch(/*block=*/in_flight_ == nullptr && deferred_.empty(), options_.max_round_commands);
    bool closed;
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      closed = inbox_->closed;
    }
    if (closed) {
      if (in_flight_) FinishInFlight();  // not under the inbox's lock: Dispatch takes it
      // Taken just before the stop: answered, never dropped.
      for (auto& item : batch) item.Answer(Rejected(fb::RejectCode::Unavailable, "engine stopped"));
      return;
    }
    // Retries of commands that were being stored go first: their answers
    // are in the reply cache now.
    while (!deferred_.empty()) {
      batch.push_front(std::move(deferred_.back()));
      deferred_.pop_back();
    }
    // Step results held while the log was down go first, in their order.
    if (!log_down_.empty() && LogBackUp()) {
      while (!held_.empty()) {
        batch.push_front(std::move(held_.back()));
        held_.pop_back();
      }
    }
    // Timers that are due become commands of this round.
    for (const auto& [id, kind] : timers_.TakeDue(Now())) {
      batch.push_back(InboxItem{cmd::Timer(id, kind, {InternalId(), 0, options_.actor}),
                                Principal::Engine(options_.actor), {}, {}, {}});
    }
    Round(std::move(batch), !recovered_);
  }
}

void EngineImpl::Rebuild() {
  Version v;
  if (Status s = LoadVersion(*log_, &v); !s.ok()) spdlog::critical("engine: rebuild failed: {}", s.ToString());
  state_ = v.state;
  next_seq_ = log_->LastSeq() + 1;
  timers_armed_ = false;
  read_->Reset(std::move(v));
}

bool EngineImpl::LogBackUp() {
  if (Status s = log_->Writable(); !s.ok()) {
    log_down_ = s.message();
    return false;
  }
  spdlog::info("engine: the log can be written again; recording {} held step results", held_.size());
  log_down_.clear();
  if (log_->LastSeq() + 1 != next_seq_) {
    // A write reported as failed was stored after all: the log is the truth.
    spdlog::warn("engine: the log ends at seq {}, expected {}; rebuilding the state", log_->LastSeq(), next_seq_ - 1);
    Rebuild();
  }
  timers_armed_ = false;  // timers that fell due meanwhile fire now
  return true;
}

std::string EngineImpl::RefuseForDisk(const fb::CommandEnvelope& cmd) {
  if (!log_down_.empty()) {
    return log_down_ + "; nothing can be recorded until the log can be written again (queries still work)";
  }
  const auto type = cmd.command_type();
  if (options_.min_free_bytes == 0 || (type != fb::Command::RequestUpgrade && type != fb::Command::RegisterComponent)) {
    return "";
  }
  const int64_t now = Now();
  if (now - free_checked_ns_ > 250'000'000) {
    auto free = log_->FreeBytes();
    free_bytes_ = free.ok() ? free.value() : UINT64_MAX;
    free_checked_ns_ = now;
  }
  if (free_bytes_ >= options_.min_free_bytes) return "";
  auto mb = [](uint64_t b) { return std::to_string(b >> 20) + " MB"; };
  return "low disk: " + mb(free_bytes_) + " free on the log's filesystem, below the " + mb(options_.min_free_bytes) +
         " kept for upgrades in flight (--min-free-mb); new upgrades and registrations are refused until there is "
         "room (running upgrades go on)";
}

void EngineImpl::Stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    if (inbox_->closed) return;
    inbox_->stopping = true;
  }
  size_t left = 0;
  {
    std::unique_lock<std::mutex> lock(inbox_->mu);
    if (inbox_->steps_out > 0) {
      spdlog::info("engine: stopping; waiting up to {} ms for {} running steps", grace.count(), inbox_->steps_out);
    }
    inbox_->settled.wait_for(lock, grace, [this] { return inbox_->Settled(); });
    left = inbox_->steps_out;
  }
  if (left > 0) {
    spdlog::warn("engine: {} steps still running after the {} ms grace period; they are ended now, and the next start "
                 "records them as interrupted",
                 left, grace.count());
    executor_->Abandon();
  }
  Stop();
}

void EngineImpl::Stop() {
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    if (inbox_->closed) return;
    inbox_->closed = true;
  }
  inbox_->cv.notify_all();
  if (queries_) queries_->Close();
  if (thread_.joinable()) thread_.join();
  // Retries of a command that was being stored: its answer if it was.
  for (auto& item : deferred_) {
    const auto* cmd = cmd::VerifyCommand(item.bytes);
    const Reply* stored = cmd != nullptr ? replies_.Recall(proj::Id::From(cmd->command_id())) : nullptr;
    item.Answer(stored != nullptr ? *stored : Rejected(fb::RejectCode::Unavailable, "engine stopped"));
  }
  deferred_.clear();
  if (!held_.empty()) {
    spdlog::error("engine: {} step results were never recorded (the log could not be written); the next start "
                  "records their steps as interrupted",
                  held_.size());
    held_.clear();
  }
  if (read_) read_->Stop();  // answers the last round's replies; Current() goes on
  snapshots_.reset();  // a snapshot already taken is still written
  std::deque<InboxItem> left;
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    left.swap(inbox_->items);
  }
  for (auto& item : left) item.Answer(Rejected(fb::RejectCode::Unavailable, "engine stopped"));
}

Status Engine::Open(store::EventLog* log, Executor* executor, EventPublisher* publisher, const EngineOptions& options,
                    std::unique_ptr<Engine>* engine) {
  auto impl = std::make_unique<EngineImpl>(log, executor, publisher, options);
  if (Status s = impl->Start(); !s.ok()) return s;
  *engine = std::move(impl);
  return Status::OK();
}

}  // namespace noodle::engine
