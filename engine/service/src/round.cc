// One round of the writer: decide the batch against the speculative state
// while the committer appends the round before, settle that one
// (round_finish.cc), then hand this one's events to the committer as one
// group-commit write. A round decided on top of one that was not stored is
// decided again.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "engine_impl.h"
#include "noodle/envelope.h"
#include "noodle/protocol/commands.h"

namespace noodle::engine {
namespace {

constexpr size_t kMaxReconcilePerRound = 10'000;

}  // namespace

void EngineImpl::Round(std::deque<InboxItem> batch, bool recover) {
  auto w = std::make_unique<RoundWork>();
  w->batch = std::move(batch);
  DecideRound(*w, recover);
  if (!w->redo && !w->recover) DecideWhileCommitting(*w);
  // The round before, stored as decided, is settled (published, dispatched,
  // answered) after this one is handed over, so that the committer appends
  // while the writer settles.
  std::unique_ptr<RoundWork> stored_before;
  if (in_flight_ && InFlightStoredAsDecided()) {
    stored_before = std::move(in_flight_);
  } else if (in_flight_ && !FinishInFlight()) {
    // Not stored as decided, and this one was decided on top of it: decided
    // again against the state the log holds.
    w->redo = true;
  }
  if (w->redo) DecideRound(*w, recover);
  for (size_t i = 0; i < kMaxReconcilePerRound && log_down_.empty(); ++i) {
    auto d = Reconcile(state_, NewContext(InternalId(), options_.actor), options_.limits);
    if (!d) break;
    ApplySpeculatively(*d, *w);
  }
  CaptureSteps(*w);
  if (w->appends.empty()) {
    if (stored_before) Finish(*stored_before);
    Finish(*w);
    return;
  }
  w->first_seq = next_seq_;
  next_seq_ += w->events;
  committer_->Start(&w->appends);
  in_flight_ = std::move(w);
  if (stored_before) Finish(*stored_before);
  // The start's recovery is stored before anything else is decided.
  if (in_flight_->recover) FinishInFlight();
  ArmTimers();
}

void EngineImpl::DecideRound(RoundWork& w, bool recover) {
  w.pending.clear();
  w.appends.clear();
  w.steps.clear();
  w.created.clear();
  w.command_ids.clear();
  w.events = 0;
  w.redo = false;
  w.pending.reserve(w.batch.size());
  // While the log cannot be written, nothing is decided that would append.
  w.recover = recover && log_down_.empty();
  if (w.recover) {
    for (Decision& d : Recover(state_, NewContext(InternalId(), options_.actor))) ApplySpeculatively(d, w);
  }
  for (auto& item : w.batch) {
    DecideOne(item, w);
    if (w.redo) return;
  }
}

void EngineImpl::DecideWhileCommitting(RoundWork& w) {
  while (in_flight_ && w.batch.size() < options_.max_round_commands && committer_->Busy()) {
    std::deque<InboxItem> more = NextBatch(/*block=*/false, options_.max_round_commands - w.batch.size());
    if (more.empty()) return;
    const size_t first = w.batch.size();
    for (auto& item : more) w.batch.push_back(std::move(item));
    for (size_t i = first; i < w.batch.size(); ++i) {
      DecideOne(w.batch[i], w);
      if (w.redo) return;
    }
  }
}

void EngineImpl::DecideOne(InboxItem& item, RoundWork& w) {
  Pending& p = w.pending.emplace_back();
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
  if (auto denial = Authorize(item.who, *cmd, state_)) return Refuse(item, *cmd, *denial, actor, p, w);
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
  if (w.command_ids.count(command_id) > 0 || (in_flight_ && in_flight_->command_ids.count(command_id) > 0)) {
    p.defer = true;  // its original is being stored: answered from the reply cache in a later round
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
    // Planned by the query side; resolved here only if it came another way,
    // from the log, which must then hold the round being stored.
    if (item.rollback) {
      target = *item.rollback;
    } else {
      if (in_flight_ && !FinishInFlight()) {
        w.redo = true;
        return;
      }
      if (!ResolveRollback(*log_, state_, *rb, &target, &p.reply)) return;
    }
    if (auto denial = AuthorizeRollback(item.who, target, state_)) return Refuse(item, *cmd, *denial, actor, p, w);
    resolved = &target;
  }
  Decision d = Decide(*cmd, state_, NewContext(command_id, actor), options_.limits, resolved);
  p.cacheable = true;
  p.command_id = command_id;
  w.command_ids.insert(command_id);
  if (AlreadyStored(d, command_id, w, &p.reply)) return;
  p.first_append = w.appends.size();
  ApplySpeculatively(d, w);
  p.append_count = w.appends.size() - p.first_append;
  p.reply.accepted = !d.rejected;
  p.reply.code = d.code;
  p.reply.message = d.message;
  p.reply.errors = std::move(d.errors);
  p.reply.ids = std::move(d.ids);
  p.reply.result_json = std::move(d.result_json);
}

void EngineImpl::Refuse(InboxItem& item, const fb::CommandEnvelope& cmd, const Denial& denial,
                        const std::string& actor, Pending& p, RoundWork& w) {
  uint32_t suppressed = 0;
  const bool record = log_down_.empty() && refusals_.Admit(Now(), &suppressed);
  if (refusals_.dropped_total() % 1000 == 1 || record) {
    spdlog::warn("engine: refused {} from {}: {}", fb::EnumNameCommand(cmd.command_type()), item.who.name,
                 denial.reason);
  }
  Decision d = engine::Refuse(item.who, cmd.command_type(), denial, record, suppressed, NewContext(InternalId(), actor));
  p.first_append = w.appends.size();
  ApplySpeculatively(d, w);
  p.append_count = w.appends.size() - p.first_append;
  p.reply = Rejected(d.code, d.message);
}

bool EngineImpl::AlreadyStored(const Decision& d, const proj::Id& command_id, const RoundWork& w, Reply* reply) {
  for (const auto& se : d.appends) {
    if (!se.new_stream) continue;
    // Created by this round or by the one being stored (not in the log yet).
    if (w.created.count(se.stream) > 0 || (in_flight_ && in_flight_->created.count(se.stream) > 0)) {
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

void EngineImpl::ApplySpeculatively(Decision& d, RoundWork& w) {
  uint64_t seq = next_seq_ + w.events;
  for (auto& se : d.appends) {
    store::BatchAppend& b = w.appends.emplace_back();
    b.stream = se.stream;
    b.expected_version = se.new_stream ? store::kNoStream : store::kAnyVersion;
    if (se.new_stream) w.created.insert(se.stream);
    w.events += se.events.size();
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

void EngineImpl::CaptureSteps(RoundWork& w) {
  if (executor_ == nullptr) return;
  for (size_t k = 0; k < w.appends.size(); ++k) {
    for (const auto& bytes : w.appends[k].events) {
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
      w.steps.emplace_back(k, std::move(req));
    }
  }
}

}  // namespace noodle::engine
