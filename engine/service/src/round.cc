// One round of the writer: decide the batch against the speculative state,
// append every event in one group-commit write, then answer (through the
// read side, once the events can be read), publish and dispatch steps.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "engine_impl.h"
#include "noodle/envelope.h"
#include "noodle/protocol/commands.h"

namespace noodle::engine {
namespace {

constexpr size_t kMaxReconcilePerRound = 10'000;

bool AllStored(const std::vector<store::BatchAppend>& appends) {
  return std::all_of(appends.begin(), appends.end(), [](const auto& a) { return a.status.ok(); });
}

}  // namespace

void EngineImpl::Round(std::deque<InboxItem> batch, bool recover) {
  std::vector<Pending> pending;
  std::vector<store::BatchAppend> appends;
  pending.reserve(batch.size());
  created_.clear();
  // While the log cannot be written, nothing is decided that would append.
  recover = recover && log_down_.empty();
  if (recover) {
    for (Decision& d : Recover(state_, NewContext(InternalId(), options_.actor))) ApplySpeculatively(d, appends);
  }
  for (auto& item : batch) DecideOne(item, pending, appends);
  for (size_t i = 0; i < kMaxReconcilePerRound && log_down_.empty(); ++i) {
    auto d = Reconcile(state_, NewContext(InternalId(), options_.actor), options_.limits);
    if (!d) break;
    ApplySpeculatively(*d, appends);
  }
  DurableRound round;
  if (!appends.empty()) {
    Append(appends);
    bool rebuilt = false;
    auto stored = Settle(appends, &rebuilt);
    if (!stored->empty()) Dispatch(*stored);
    if (!rebuilt) round.events = std::move(stored);  // else the rebuilt version has them
  }
  if (recover && AllStored(appends)) recovered_ = true;
  Answer(pending, appends, round);
  if (round.events != nullptr || !round.answers.empty()) read_->Hand(std::move(round));
  ArmTimers();
}

void EngineImpl::Append(std::vector<store::BatchAppend>& appends) {
  if (options_.observer == nullptr) {
    log_->AppendMany(&appends);
    return;
  }
  size_t events = 0;
  for (const auto& a : appends) events += a.events.size();
  const auto start = std::chrono::steady_clock::now();
  log_->AppendMany(&appends);
  options_.observer->Appended(std::chrono::steady_clock::now() - start, events, AllStored(appends));
}

void EngineImpl::DecideOne(InboxItem& item, std::vector<Pending>& pending, std::vector<store::BatchAppend>& appends) {
  Pending& p = pending.emplace_back();
  p.item = &item;
  const auto* cmd = cmd::VerifyCommand(item.bytes);
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
  if (auto denial = Authorize(item.who, *cmd, state_)) return Refuse(item, *cmd, *denial, actor, p, appends);
  if (IsQuery(cmd->command_type())) {
    // Only a query the query side found refused comes here; allowed now, it
    // is answered from the newest version as there.
    const VersionPtr v = read_->Latest();
    p.reply = AnswerQuery(*cmd, v->state, v->stats, *log_, options_.max_reply_bytes);
    return;
  }
  if (const Reply* earlier = replies_.Recall(command_id)) {
    p.reply = *earlier;  // a retry: the original answer, nothing decided again
    return;
  }
  const auto type = cmd->command_type();
  p.holdable = item.who.engine && (type == fb::Command::ReportStepResult || type == fb::Command::ReportHealth);
  if (std::string why = RefuseForDisk(*cmd); !why.empty()) {
    p.hold = p.holdable && !log_down_.empty();
    p.reply = Rejected(fb::RejectCode::Unavailable, std::move(why));
    return;
  }
  RollbackTarget target;
  const RollbackTarget* resolved = nullptr;
  if (const auto* rb = cmd->command_as_RollBack()) {
    // Planned by the query side; resolved here only if it came another way.
    if (item.rollback) target = std::move(*item.rollback);
    else if (!ResolveRollback(*log_, state_, *rb, &target, &p.reply)) return;
    if (auto denial = AuthorizeRollback(item.who, target, state_)) return Refuse(item, *cmd, *denial, actor, p, appends);
    resolved = &target;
  }
  Decision d = Decide(*cmd, state_, NewContext(command_id, actor), options_.limits, resolved);
  p.cacheable = true;
  p.command_id = command_id;
  if (AlreadyStored(d, command_id, &p.reply)) return;
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

void EngineImpl::Refuse(InboxItem& item, const fb::CommandEnvelope& cmd, const Denial& denial,
                        const std::string& actor, Pending& p, std::vector<store::BatchAppend>& appends) {
  uint32_t suppressed = 0;
  const bool record = log_down_.empty() && refusals_.Admit(Now(), &suppressed);
  if (refusals_.dropped_total() % 1000 == 1 || record) {
    spdlog::warn("engine: refused {} from {}: {}", fb::EnumNameCommand(cmd.command_type()), item.who.name,
                 denial.reason);
  }
  Decision d = engine::Refuse(item.who, cmd.command_type(), denial, record, suppressed, NewContext(InternalId(), actor));
  p.first_append = appends.size();
  ApplySpeculatively(d, appends);
  p.append_count = appends.size() - p.first_append;
  p.reply = Rejected(d.code, d.message);
}

bool EngineImpl::AlreadyStored(const Decision& d, const proj::Id& command_id, Reply* reply) {
  for (const auto& se : d.appends) {
    if (!se.new_stream) continue;
    if (created_.count(se.stream) > 0) {
      *reply = Rejected(fb::RejectCode::Conflict, "stream " + se.stream + " is created twice in one round");
      return true;
    }
    // An upgrade that has ended is no longer in the state, but its stream
    // stays in the log: the store would refuse the append.
    auto version = log_->StreamVersion(se.stream);
    if (!version.ok() || version.value() == 0) continue;
    // The same command, retried after a restart (its reply was lost and the
    // reply cache with it): the original answer, from the log.
    std::vector<store::StoredEvent> events;
    if (log_->ReadStream(se.stream, 1, 64, &events).ok() && !events.empty() &&
        proj::Id::From(events.front().envelope()->causation_id()) == command_id) {
      *reply = Reply{};
      reply->accepted = true;
      reply->code = d.code;
      reply->message = d.message;
      reply->ids = d.ids;
      for (const auto& e : events) {
        if (proj::Id::From(e.envelope()->causation_id()) == command_id) reply->seqs.push_back(e.seq);
      }
      return true;
    }
    *reply = Rejected(fb::RejectCode::Conflict,
                      "stream " + se.stream + " already exists in the log: an upgrade id is never reused (send a new one)");
    return true;
  }
  return false;
}

void EngineImpl::ApplySpeculatively(Decision& d, std::vector<store::BatchAppend>& appends) {
  uint64_t seq = next_seq_;
  for (const auto& a : appends) seq += a.events.size();
  for (auto& se : d.appends) {
    store::BatchAppend& b = appends.emplace_back();
    b.stream = se.stream;
    b.expected_version = se.new_stream ? store::kNoStream : store::kAnyVersion;
    if (se.new_stream) created_.insert(se.stream);
    for (auto& bytes : se.events) {
      auto* env = fb::GetMutableEventEnvelope(bytes.data());
      env->mutate_seq(seq++);
      Evolve(state_, *env);
    }
    if (se.stream.starts_with("upgrade/")) {
      if (auto id = IdFromHex(std::string_view(se.stream).substr(8))) touched_.insert(proj::Id::From(&*id));
    }
    b.events = std::move(se.events);
  }
}

std::shared_ptr<std::vector<std::string>> EngineImpl::Settle(std::vector<store::BatchAppend>& appends,
                                                             bool* rebuilt) {
  auto stored = std::make_shared<std::vector<std::string>>();
  bool failed = false, diverged = false;
  uint64_t expect = next_seq_;
  for (auto& a : appends) {
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
    failed = failed || !a.status.ok();
    if (!a.status.ok()) continue;
    if (a.result.duplicate || a.result.seqs.front() != expect) diverged = true;
    expect += a.result.seqs.size();
    for (auto& e : a.result.events) stored->push_back(std::move(e));
  }
  next_seq_ = log_->LastSeq() + 1;
  if (diverged || expect != next_seq_) {
    // Not what was decided (a batch stored twice, another writer): the log
    // is the truth. Never expected; the read side is rebuilt with it.
    spdlog::warn("engine: the log differs from the decided round; rebuilding the state from the log");
    Rebuild();
    *rebuilt = true;
    return stored;
  }
  if (failed) {
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

void EngineImpl::Answer(std::vector<Pending>& pending, const std::vector<store::BatchAppend>& appends,
                        DurableRound& round) {
  for (auto& p : pending) {
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

void EngineImpl::Dispatch(const std::vector<std::string>& stored) {
  if (publisher_ != nullptr) publisher_->Publish(stored);
  if (executor_ == nullptr) return;
  for (const auto& bytes : stored) {
    const auto* st = fb::GetEventEnvelope(bytes.data())->event_as_StepStarted();
    if (st == nullptr) continue;
    const proj::Upgrade* u = state_.status.find(proj::Id::From(st->upgrade_id()));
    if (u == nullptr) continue;  // ended later in the same round
    StepRequest req;
    req.upgrade_id = u->id;
    req.step = st->step();
    req.revert = st->revert();
    req.action = proj::ResolveStepAction(st->action_kind(), st->action());
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
