#include "noodle/engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "noodle/engine/authorize.h"
#include "noodle/protocol/commands.h"
#include "noodle/envelope.h"
#include "noodle/projections/codec.h"
#include "queries.h"
#include "snapshot_loader.h"
#include "snapshot_writer.h"
#include "timers.h"

namespace noodle::engine {
namespace {

constexpr size_t kMaxReconcilePerRound = 10'000;


// Commands reach the writer thread through this; executors' callbacks hold it
// too, so a late step result after Stop finds a closed inbox, not a dead engine.
struct Inbox {
  struct Item {
    std::string bytes;
    Principal who;
    std::promise<Reply> reply;
    std::function<void(Reply)> done;  // set: answer through it instead of the promise

    void Answer(Reply r) {
      if (done) done(std::move(r));
      else reply.set_value(std::move(r));
    }
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Item> items;
  bool closed = false;
  bool stopping = false;  // a graceful stop: only the engine's own items get in
  bool in_round = false;  // the writer is deciding or recording a round
  size_t steps_out = 0;   // steps handed to the executor whose results are not in yet
  std::condition_variable settled;  // a round ended or a step's results came in

  // Nothing waits, the writer is between rounds and no step is out. mu held.
  bool Settled() const { return items.empty() && !in_round && steps_out == 0; }

  std::future<Reply> Push(std::string bytes, Principal who) {
    Item item{std::move(bytes), std::move(who), {}, {}};
    auto future = item.reply.get_future();
    Push(std::move(item));
    return future;
  }
  void Push(Item item) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!closed && (!stopping || item.who.engine)) {
        items.push_back(std::move(item));
        cv.notify_one();
        return;
      }
    }
    item.Answer(Rejected(fb::RejectCode::Unavailable, closed ? "engine stopped" : "engine stopping"));
  }
};

class EngineImpl final : public Engine {
 public:
  EngineImpl(store::EventLog* log, Executor* executor, EventPublisher* publisher, EngineOptions options)
      : log_(log), executor_(executor), publisher_(publisher), options_(std::move(options)),
        inbox_(std::make_shared<Inbox>()) {}
  ~EngineImpl() override { Stop(); }

  Status Load();
  void StartThread() {
    snapshots_ = std::make_unique<SnapshotWriter>(log_);
    thread_ = std::thread([this] { Run(); });
  }

  using Engine::Submit;
  std::future<Reply> Submit(std::string command, Principal who) override {
    return inbox_->Push(std::move(command), std::move(who));
  }
  void Submit(std::string command, Principal who, std::function<void(Reply)> done) override {
    inbox_->Push(Inbox::Item{std::move(command), std::move(who), {}, std::move(done)});
  }
  State Current() const override {
    std::lock_guard<std::mutex> lock(state_mu_);
    return state_;
  }
  proj::Statistics Statistics() const override {
    std::lock_guard<std::mutex> lock(state_mu_);
    return stats_;
  }
  Result<State> StateAt(uint64_t seq) const override { return engine::StateAt(*log_, seq); }
  void Stop(std::chrono::milliseconds grace) override;
  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      if (inbox_->closed) return;
      inbox_->closed = true;
    }
    inbox_->cv.notify_all();
    if (thread_.joinable()) thread_.join();
    if (!held_.empty()) {
      spdlog::error("engine: {} step results were never recorded (the log could not be written); the next start "
                    "records their steps as interrupted",
                    held_.size());
      held_.clear();
    }
    snapshots_.reset();  // a snapshot already taken is still written
    std::deque<Inbox::Item> left;
    {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      left.swap(inbox_->items);
    }
    for (auto& item : left) item.Answer(Rejected(fb::RejectCode::Unavailable, "engine stopped"));
  }

 private:
  // A command decided in this round, waiting for its events to be durable.
  struct Pending {
    Inbox::Item* item = nullptr;  // null: the engine's own (timers)
    bool cacheable = false;  // a decided command (not a query, not malformed)
    proj::Id command_id;
    Reply reply;
    size_t first_append = 0, append_count = 0;
    bool holdable = false;  // the engine's own step result: kept if the log is down
    bool hold = false;      // kept until the log can be written
  };

  void Run();
  // commands[i]: batch[i] verified (null when it did not verify).
  void Round(std::deque<Inbox::Item> batch, const std::vector<const fb::CommandEnvelope*>& commands, bool recover);
  void DecideOne(Inbox::Item& item, const fb::CommandEnvelope* cmd, std::vector<Pending>& pending,
                 std::vector<store::BatchAppend>& appends);
  // Folds the decision's events into the state with the seqs they will get.
  void ApplySpeculatively(Decision& d, std::vector<store::BatchAppend>& appends);
  void AfterDurable(const std::vector<store::BatchAppend>& appends);
  void ArmTimers();
  // Replies of recent commands by id, so a retry gets the original reply.
  void Remember(const proj::Id& id, const Reply& reply);
  const Reply* Recall(const proj::Id& id) const {
    auto it = replies_.find(id);
    return it == replies_.end() ? nullptr : &it->second;
  }
  void MaybeSnapshot();
  // Disk full (fault handling): called at the start of each loop while the
  // log cannot be written; true when it can be again.
  bool LogBackUp();
  // Why a command that changes state is refused now (empty: it is not).
  std::string RefuseForDisk(const fb::CommandEnvelope& cmd);
  bool Holdable(const fb::CommandEnvelope& cmd, const Principal& who) const {
    return who.engine && (cmd.command_type() == fb::Command::ReportStepResult ||
                          cmd.command_type() == fb::Command::ReportHealth);
  }
  std::unique_ptr<SnapshotWriter> snapshots_;
  Status ReloadLocked();  // state_mu_ held
  int64_t Now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  Context NewContext(const proj::Id& command_id, const std::string& actor) {
    now_ns_ = std::max(now_ns_ + 1, Now());
    return Context{now_ns_, actor, command_id, {}};
  }
  proj::Id InternalId() {
    const fb::Id128 id = NewId();
    return proj::Id::From(&id);
  }

  store::EventLog* const log_;
  Executor* const executor_;
  EventPublisher* const publisher_;
  const EngineOptions options_;
  std::shared_ptr<Inbox> inbox_;
  std::thread thread_;

  mutable std::mutex state_mu_;  // guards state_ and stats_ for readers; the writer thread owns the writes
  State state_;
  proj::Statistics stats_;
  uint64_t next_seq_ = 1;         // the seq the next appended event will get
  uint64_t last_snapshot_seq_ = 0;
  int64_t now_ns_ = 0;
  RefusalLimiter refusals_{options_.refusals_recorded_per_second};
  Timers timers_;
  bool timers_armed_ = false;
  std::set<proj::Id> touched_;  // upgrades this round's events changed: their timers are re-armed
  // Fault handling, writer thread only.
  bool recovered_ = false;      // the start's recovery is durable
  std::string log_down_;        // why the log cannot be written; empty: it can
  std::deque<Inbox::Item> held_;  // step results waiting for the log
  int64_t free_checked_ns_ = 0;
  uint64_t free_bytes_ = UINT64_MAX;
  std::map<proj::Id, Reply> replies_;
  std::deque<proj::Id> reply_order_;  // oldest first, for eviction
  static constexpr size_t kRepliesKept = 65'536;
};

void EngineImpl::Remember(const proj::Id& id, const Reply& reply) {
  if (!replies_.emplace(id, reply).second) return;
  reply_order_.push_back(id);
  if (reply_order_.size() > kRepliesKept) {
    replies_.erase(reply_order_.front());
    reply_order_.pop_front();
  }
}

Status EngineImpl::Load() {
  const uint64_t base = LoadNewestSnapshot(*log_, UINT64_MAX, &state_, &stats_);
  const uint64_t last = log_->LastSeq();
  auto it = log_->Scan(base + 1, last);
  for (; it->Valid(); it->Next()) {
    Evolve(state_, *it->envelope());
    proj::Evolve(stats_, *it->envelope());
  }
  if (!it->status().ok()) return it->status();
  next_seq_ = last + 1;
  last_snapshot_seq_ = base;
  now_ns_ = state_.status.last_time_ns;
  spdlog::info("engine: state rebuilt from snapshot at seq {} and {} events; {} upgrades in progress", base,
               last - base, state_.status.upgrades.size());
  return Status::OK();
}

Status EngineImpl::ReloadLocked() {
  timers_armed_ = false;
  state_ = State{};
  stats_ = proj::Statistics{};
  return Load();
}

void EngineImpl::Run() {
  Round({}, {}, /*recover=*/true);
  while (true) {
    std::deque<Inbox::Item> batch;
    {
      std::unique_lock<std::mutex> lock(inbox_->mu);
      inbox_->in_round = false;
      inbox_->settled.notify_all();
      // While the log cannot be written, wake up to retry it.
      auto due = [this] {
        return log_down_.empty() ? timers_.NextDue() : std::min(timers_.NextDue(), Now() + 250'000'000);
      };
      while (!inbox_->closed && inbox_->items.empty() && due() > Now()) {
        const int64_t wait_ns = std::min<int64_t>(due() - Now(), 1'000'000'000);
        inbox_->cv.wait_for(lock, std::chrono::nanoseconds(wait_ns));
      }
      if (inbox_->closed) return;
      inbox_->in_round = true;
      while (!inbox_->items.empty() && batch.size() < options_.max_round_commands) {
        batch.push_back(std::move(inbox_->items.front()));
        inbox_->items.pop_front();
      }
    }
    // Step results held while the log was down go first, in their order.
    if (!log_down_.empty() && LogBackUp()) {
      while (!held_.empty()) {
        batch.push_front(std::move(held_.back()));
        held_.pop_back();
      }
    }
    // Timers that are due become commands of this round.
    const int64_t now = Now();
    for (const auto& [id, kind] : timers_.TakeDue(now)) {
      batch.push_back(Inbox::Item{cmd::Timer(id, Timers::Name(kind), {InternalId(), 0, options_.actor}),
                                  Principal::Engine(options_.actor), {}, {}});
    }
    // Each command is verified once, here, outside the inbox lock (a deque
    // keeps its elements in place, so the views stay valid in Round).
    std::vector<const fb::CommandEnvelope*> commands;
    commands.reserve(batch.size());
    for (const auto& item : batch) {
      const auto* cmd = cmd::VerifyCommand(item.bytes);
      // A rollback is resolved against the durable log, so it starts a round:
      // it and what follows go back to the front of the inbox.
      if (!commands.empty() && cmd != nullptr && cmd->command_type() == fb::Command::RollBack) break;
      commands.push_back(cmd);
    }
    if (commands.size() < batch.size()) {
      std::lock_guard<std::mutex> lock(inbox_->mu);
      while (batch.size() > commands.size()) {
        inbox_->items.push_front(std::move(batch.back()));
        batch.pop_back();
      }
    }
    Round(std::move(batch), commands, !recovered_);
  }
}

bool EngineImpl::LogBackUp() {
  if (Status s = log_->Writable(); !s.ok()) {
    log_down_ = s.message();
    return false;
  }
  spdlog::info("engine: the log can be written again; recording {} held step results", held_.size());
  log_down_.clear();
  std::lock_guard<std::mutex> lock(state_mu_);
  if (log_->LastSeq() + 1 != next_seq_) {
    // A write reported as failed was stored after all: the log is the truth.
    spdlog::warn("engine: the log ends at seq {}, expected {}; rebuilding the state", log_->LastSeq(), next_seq_ - 1);
    if (Status s = ReloadLocked(); !s.ok()) spdlog::critical("engine: rebuild failed: {}", s.ToString());
    next_seq_ = log_->LastSeq() + 1;
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

void EngineImpl::Round(std::deque<Inbox::Item> batch, const std::vector<const fb::CommandEnvelope*>& commands,
                       bool recover) {
  std::vector<Pending> pending;
  std::vector<store::BatchAppend> appends;
  pending.reserve(batch.size());
  // Held until the round's events are durable: readers of Current() never
  // see state that a crash could take back.
  std::unique_lock<std::mutex> lock(state_mu_);
  {
    // While the log cannot be written, nothing is decided that would append.
    recover = recover && log_down_.empty();
    if (recover) {
      for (Decision& d : Recover(state_, NewContext(InternalId(), options_.actor))) ApplySpeculatively(d, appends);
    }
    for (size_t i = 0; i < batch.size(); ++i) DecideOne(batch[i], commands[i], pending, appends);
    for (size_t i = 0; i < kMaxReconcilePerRound && log_down_.empty(); ++i) {
      auto d = Reconcile(state_, NewContext(InternalId(), options_.actor), options_.limits);
      if (!d) break;
      ApplySpeculatively(*d, appends);
    }
  }
  if (!appends.empty()) {
    log_->AppendMany(&appends);
    // The prediction holds unless a batch failed or was already stored (a
    // command retried after a restart). Then the log is the truth: reload.
    bool reload = false;
    uint64_t expect = next_seq_;
    for (const auto& a : appends) {
      if (!a.status.ok() || a.result.duplicate || a.result.seqs.front() != expect) {
        reload = true;
        if (a.status.code() == Status::Code::kUnavailable) {
          if (log_down_.empty()) {
            spdlog::error("engine: the log cannot be written ({}); commands that change state are refused, queries "
                          "go on, and step results wait in memory until it can",
                          a.status.message());
          }
          log_down_ = a.status.message();
        } else if (!a.status.ok()) {
          spdlog::error("engine: append to {} failed: {}", a.stream, a.status.ToString());
        }
        continue;
      }
      expect += a.result.seqs.size();
    }
    next_seq_ = log_->LastSeq() + 1;
    if (reload) {
      spdlog::warn("engine: the log differs from the decided round; rebuilding the state from the log");
      if (Status s = ReloadLocked(); !s.ok()) spdlog::critical("engine: rebuild failed: {}", s.ToString());
    }
  }
  if (recover && std::all_of(appends.begin(), appends.end(), [](const auto& a) { return a.status.ok(); })) {
    recovered_ = true;
  }
  lock.unlock();
  for (auto& p : pending) {
    bool stored = true;
    for (size_t k = p.first_append; k < p.first_append + p.append_count; ++k) {
      const auto& a = appends[k];
      if (!a.status.ok()) {
        // Not acknowledged; a retry with the same command id is safe.
        stored = false;
        p.hold = p.holdable && a.status.code() == Status::Code::kUnavailable;
        p.reply = Rejected(a.status.IsConflict() ? fb::RejectCode::Conflict : fb::RejectCode::Unavailable,
                           a.status.code() == Status::Code::kUnavailable ? a.status.message()
                                                                         : "events not stored: " + a.status.ToString());
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
    if (p.cacheable && stored) Remember(p.command_id, p.reply);
    if (p.item != nullptr) p.item->Answer(std::move(p.reply));
  }
  if (!appends.empty()) AfterDurable(appends);
  ArmTimers();
  MaybeSnapshot();
}

void EngineImpl::DecideOne(Inbox::Item& item, const fb::CommandEnvelope* cmd, std::vector<Pending>& pending,
                           std::vector<store::BatchAppend>& appends) {
  Pending& p = pending.emplace_back();
  p.item = &item;
  if (cmd == nullptr) {
    p.reply = Rejected(fb::RejectCode::Invalid, "not a CommandEnvelope (FlatBuffers verification failed)");
    return;
  }
  const proj::Id command_id = proj::Id::From(cmd->command_id());
  // The authenticated name, never the client's word; without keys there is
  // no identity, and the client's text is marked as such.
  const std::string claimed = cmd->actor() != nullptr && cmd->actor()->size() > 0 ? cmd->actor()->str() : "anonymous";
  const std::string actor = item.who.unauthenticated ? "local:" + claimed : item.who.name;
  // Before anything else, so a refused principal learns nothing, not even a
  // cached reply.
  auto refuse = [&](const Denial& denial) {
    uint32_t suppressed = 0;
    const bool record = log_down_.empty() && refusals_.Admit(Now(), &suppressed);
    if (refusals_.dropped_total() % 1000 == 1 || record) {
      spdlog::warn("engine: refused {} from {}: {}", fb::EnumNameCommand(cmd->command_type()), item.who.name,
                   denial.reason);
    }
    Decision d = Refuse(item.who, cmd->command_type(), denial, record, suppressed, NewContext(InternalId(), actor));
    p.first_append = appends.size();
    ApplySpeculatively(d, appends);
    p.append_count = appends.size() - p.first_append;
    p.reply = Rejected(d.code, d.message);
  };
  if (auto denial = Authorize(item.who, *cmd, state_)) return refuse(*denial);
  if (IsQuery(cmd->command_type())) {
    p.reply = AnswerQuery(*cmd, state_, stats_, *log_, options_.max_reply_bytes);
    return;
  }
  if (const Reply* earlier = Recall(command_id)) {
    p.reply = *earlier;  // a retry: the original answer, nothing decided again
    return;
  }
  p.holdable = Holdable(*cmd, item.who);
  if (std::string why = RefuseForDisk(*cmd); !why.empty()) {
    p.hold = p.holdable && !log_down_.empty();
    p.reply = Rejected(fb::RejectCode::Unavailable, std::move(why));
    return;
  }
  // An upgrade id used by an upgrade that has ended is not in the live state;
  // its stream is in the log, so the append (new stream) refuses it: Conflict.
  RollbackTarget target;
  const RollbackTarget* resolved = nullptr;
  if (const auto* rb = cmd->command_as_RollBack()) {
    if (!ResolveRollback(*log_, state_, *rb, &target, &p.reply)) return;
    if (auto denial = AuthorizeRollback(item.who, target, state_)) return refuse(*denial);
    resolved = &target;
  }
  Decision d = Decide(*cmd, state_, NewContext(command_id, actor), options_.limits, resolved);
  p.cacheable = true;
  p.command_id = command_id;
  p.first_append = appends.size();
  ApplySpeculatively(d, appends);
  p.append_count = appends.size() - p.first_append;
  p.reply.accepted = !d.rejected;
  p.reply.code = d.code;
  p.reply.message = d.message;
  p.reply.errors = std::move(d.errors);
  p.reply.ids = std::move(d.ids);
  p.reply.result_json = std::move(d.result_json);
}

void EngineImpl::ApplySpeculatively(Decision& d, std::vector<store::BatchAppend>& appends) {
  uint64_t seq = next_seq_;
  for (const auto& a : appends) seq += a.events.size();
  for (auto& se : d.appends) {
    store::BatchAppend& b = appends.emplace_back();
    b.stream = se.stream;
    b.expected_version = se.new_stream ? store::kNoStream : store::kAnyVersion;
    for (auto& bytes : se.events) {
      auto* env = fb::GetMutableEventEnvelope(bytes.data());
      env->mutate_seq(seq++);
      Evolve(state_, *env);
      proj::Evolve(stats_, *env);
    }
    if (se.stream.starts_with("upgrade/")) {
      if (auto id = IdFromHex(std::string_view(se.stream).substr(8))) touched_.insert(proj::Id::From(&*id));
    }
    b.events = std::move(se.events);
  }
}

void EngineImpl::AfterDurable(const std::vector<store::BatchAppend>& appends) {
  std::vector<std::string> published;
  for (const auto& a : appends) {
    for (const auto& e : a.result.events) published.push_back(e);
  }
  if (publisher_ != nullptr) publisher_->Publish(published);
  if (executor_ == nullptr) return;
  std::lock_guard<std::mutex> lock(state_mu_);
  for (const auto& bytes : published) {
    const auto* env = fb::GetEventEnvelope(bytes.data());
    const auto* st = env->event_as_StepStarted();
    if (st == nullptr) continue;
    const proj::Upgrade* u = state_.status.find(proj::Id::From(st->upgrade_id()));
    if (u == nullptr) continue;  // ended later in the same round
    StepRequest req;
    req.upgrade_id = u->id;
    req.step = st->step();
    req.revert = st->revert();
    req.action = st->action() ? st->action()->str() : "";
    req.instance = st->instance() ? st->instance()->str() : "";
    req.weight = st->weight();
    if (const proj::Component* now = state_.registry.find(u->component)) req.from = *now;
    req.to = u->target;
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
        in->Push(std::move(c), Principal::Engine(actor));
      }
      if (!in_process) return;
      std::lock_guard<std::mutex> lock(in->mu);  // after the results are in: a stop waits for both
      --in->steps_out;
      in->settled.notify_all();
    });
  }
}

void EngineImpl::ArmTimers() {
  std::lock_guard<std::mutex> lock(state_mu_);
  if (!timers_armed_) {  // the first round after a (re)load: every upgrade
    for (const auto& [id, u] : state_.status.upgrades) touched_.insert(id);
    timers_armed_ = true;
  }
  for (const auto& id : touched_) timers_.Rearm(id, state_.status.find(id));
  touched_.clear();
}

void EngineImpl::MaybeSnapshot() {
  const uint64_t seq = next_seq_ - 1;
  if (options_.snapshot_every == 0 || seq / options_.snapshot_every == last_snapshot_seq_ / options_.snapshot_every) {
    return;
  }
  // The writer only copies the projections; encoding and writing them is
  // the snapshot writer's. While it is busy, the next round offers again.
  const bool taken = snapshots_->Offer(seq, [this](proj::Registry* r, proj::Status* st, proj::Statistics* stats) {
    std::lock_guard<std::mutex> lock(state_mu_);
    *r = state_.registry;
    *st = state_.status;
    *stats = stats_;
  });
  if (taken) last_snapshot_seq_ = seq;
}

}  // namespace

Status Engine::Open(store::EventLog* log, Executor* executor, EventPublisher* publisher, const EngineOptions& options,
                    std::unique_ptr<Engine>* engine) {
  auto impl = std::make_unique<EngineImpl>(log, executor, publisher, options);
  if (Status s = impl->Load(); !s.ok()) return s;
  impl->StartThread();
  *engine = std::move(impl);
  return Status::OK();
}

}  // namespace noodle::engine
