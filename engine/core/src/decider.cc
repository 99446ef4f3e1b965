// Decide: one command against the state. See decider.h for the contract.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "lifecycle.h"
#include "noodle/engine/names.h"
#include "noodle/projections/codec.h"

namespace noodle::engine {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using Code = fb::ValidationCode;

Decision Reject(fb::RejectCode code, std::string message, std::vector<Issue> errors = {}) {
  Decision d;
  d.rejected = true;
  d.code = code;
  d.message = std::move(message);
  d.errors = std::move(errors);
  return d;
}

Decision Invalid(const std::string& what, std::vector<Issue> issues) {
  std::string msg = what + ": " + std::to_string(issues.size()) + " problem" + (issues.size() == 1 ? "" : "s");
  if (!issues.empty()) msg += ": " + issues.front().message + (issues.size() > 1 ? "; ..." : "");
  return Reject(fb::RejectCode::Invalid, std::move(msg), std::move(issues));
}

std::string S(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

bool HasQueued(const State& state, const std::string& component) { return state.status.queued.count(component) > 0; }

const proj::Upgrade* Find(const State& state, const fb::Id128* id) { return state.status.find(proj::Id::From(id)); }

std::string NotInProgress(const fb::Id128* id) { return "no upgrade " + IdToHex(*id) + " in progress"; }

Decision RegisterComponent(const fb::RegisterComponent& cmd, const State& state, const Context& ctx,
                           const Limits& limits) {
  if (auto issues = CheckSpecShape(*cmd.component(), limits, "component"); !issues.empty()) {
    return Invalid("component spec is malformed", std::move(issues));
  }
  const proj::Component c = proj::FromSpec(*cmd.component());
  if (const proj::Component* existing = state.registry.find(c.name)) {
    if (*existing == c) return Decision{};  // a retry: already registered just so
    return Reject(fb::RejectCode::Conflict, "component " + c.name + " is already registered at " + existing->version +
                                                "; upgrade it, or deregister it first");
  }
  if (auto issues = CheckRegistration(c, state.registry); !issues.empty()) {
    std::string msg = "cannot register " + c.name + ": " + issues.front().message;
    return Reject(fb::RejectCode::ValidationFailed, std::move(msg), std::move(issues));
  }
  Decision d;
  Emitter em(ctx, &d);
  em.Emit("component/" + c.name, {}, fb::Event::ComponentRegistered, [&](FlatBufferBuilder& fbb) {
    return fb::CreateComponentRegistered(fbb, proj::ToSpec(fbb, c)).Union();
  });
  return d;
}

Decision DeregisterComponent(const fb::DeregisterComponent& cmd, const State& state, const Context& ctx) {
  const std::string name = cmd.name()->str();
  {
    std::vector<Issue> issues;
    if (const std::string why = names::NameProblem(name); !why.empty()) {
      issues.push_back({Code::InvalidName, "name", "component name '" + names::Printable(name) + "' " + why});
    }
    if (const std::string why = names::TextProblem(S(cmd.reason()), names::kMaxTextBytes); !why.empty()) {
      issues.push_back({Code::InvalidText, "reason", "reason " + why});
    }
    if (!issues.empty()) return Invalid("deregistration is malformed", std::move(issues));
  }
  if (state.registry.find(name) == nullptr) return Reject(fb::RejectCode::NotFound, "component " + name + " is not registered");
  if (state.status.busy.count(name) || HasQueued(state, name)) {
    return Reject(fb::RejectCode::Conflict, "component " + name + " has an upgrade in progress");
  }
  if (auto dependents = state.registry.DependentsOf(name); !dependents.empty()) {
    std::string list;
    for (const auto& n : dependents) list += (list.empty() ? "" : ", ") + n;
    return Reject(fb::RejectCode::Conflict, "component " + name + " is a dependency of " + list);
  }
  Decision d;
  Emitter em(ctx, &d);
  em.Emit("component/" + name, {}, fb::Event::ComponentDeregistered, [&](FlatBufferBuilder& fbb) {
    return fb::CreateComponentDeregistered(fbb, Str(fbb, name), Str(fbb, S(cmd.reason()))).Union();
  });
  return d;
}

nlohmann::json PlanJson(const proj::Upgrade& u, const ValidationResult& v, bool would_queue) {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& e : v.errors) errors.push_back({{"code", e.code}, {"field", e.field}, {"message", e.message}});
  nlohmann::json plan = nlohmann::json::array();
  for (const auto& p : u.plan) {
    plan.push_back({{"action", proj::StepActionName(p.action)}, {"instance", p.instance}, {"weight", p.weight},
                    {"pause", p.pause}});
  }
  return {{"dry_run", true}, {"valid", v.errors.empty()}, {"component", u.component}, {"from", v.from_version},
          {"to", u.to_version}, {"breaking", v.breaking}, {"warnings", v.warnings}, {"errors", std::move(errors)},
          {"plan", std::move(plan)}, {"parallel", u.parallel}, {"would_queue", would_queue}};
}

Decision RequestUpgrade(const fb::RequestUpgrade& cmd, const State& state, const Context& ctx, const Limits& limits) {
  const proj::Id id = proj::Id::From(cmd.upgrade_id());
  if (auto issues = CheckRequestShape(cmd, limits); !issues.empty()) {
    return Invalid("upgrade request is malformed", std::move(issues));
  }
  if (state.status.find(id) != nullptr) return Reject(fb::RejectCode::Conflict, "upgrade " + id.hex() + " already exists");
  const std::string component = cmd.component()->str();
  if (state.registry.find(component) == nullptr) {
    return Reject(fb::RejectCode::NotFound, "component " + component + " is not registered",
                  {{Code::ComponentNotFound, "component", "component " + component + " is not registered"}});
  }

  Decision d;
  Emitter em(ctx, &d);
  const fb::Id128 fid = id.fb();
  em.Emit(UpgradeStream(id), id, fb::Event::UpgradeRequested, [&](FlatBufferBuilder& fbb) {
    Offset<fb::Strategy> strategy;
    if (cmd.strategy() != nullptr) strategy = proj::ToStrategy(fbb, proj::FromStrategy(cmd.strategy()));
    Offset<fb::ComponentSpec> target;
    if (cmd.target() != nullptr) target = proj::ToSpec(fbb, proj::FromSpec(*cmd.target()));
    std::vector<Offset<fb::KeyValue>> metadata;
    if (cmd.metadata() != nullptr) {
      for (const auto* kv : *cmd.metadata()) {
        metadata.push_back(fb::CreateKeyValue(fbb, Str(fbb, kv->key()->str()), Str(fbb, S(kv->value()))));
      }
    }
    return fb::CreateUpgradeRequested(fbb, &fid, Str(fbb, component), Str(fbb, S(cmd.expected_version())),
                                      Str(fbb, cmd.target_version()->str()), target, strategy, cmd.priority(),
                                      cmd.timeout_ms(), cmd.rollback_enabled(), cmd.validation_level(),
                                      cmd.allow_breaking(), Str(fbb, S(cmd.requested_by())),
                                      fbb.CreateVectorOfSortedTables(&metadata))
        .Union();
  });
  d.appends.front().new_stream = true;
  d.ids.push_back(id);

  const bool would_queue = state.status.busy.count(component) > 0 || HasQueued(state, component) ||
                           state.status.busy.size() >= limits.max_running;
  if (cmd.dry_run()) {
    Decision scratch;
    Emitter trial(ctx, &scratch);
    trial.scratch = em.scratch;
    const ValidationResult v = StartUpgrade(trial, state, id);
    const proj::Upgrade* planned = trial.upgrade(id);
    nlohmann::json result = PlanJson(planned != nullptr ? *planned : *em.upgrade(id), v, would_queue);
    Decision dry = v.errors.empty() ? Decision{}
                                    : Reject(fb::RejectCode::ValidationFailed,
                                             "dry run: upgrade of " + component + " would be rejected", v.errors);
    dry.ids.push_back(id);
    dry.result_json = result.dump();
    return dry;
  }
  if (would_queue) return d;  // Reconcile starts it when its turn comes
  const ValidationResult v = StartUpgrade(em, state, id);
  if (!v.errors.empty()) {
    d.rejected = true;
    d.code = fb::RejectCode::ValidationFailed;
    d.message = "upgrade of " + component + " to " + cmd.target_version()->str() + " rejected: " +
                std::to_string(v.errors.size()) + " problem" + (v.errors.size() == 1 ? "" : "s");
    d.errors = v.errors;
  }
  return d;
}

// Cancel and abort: a queued upgrade just ends; a running one stops and rolls back.
Decision StopUpgrade(const fb::Id128* fid, fb::Event how, const std::string& reason, const State& state,
                     const Context& ctx) {
  const proj::Upgrade* u = Find(state, fid);
  if (u == nullptr) return Reject(fb::RejectCode::NotFound, NotInProgress(fid));
  if (u->phase == proj::Phase::kRollingBack) {
    return Reject(fb::RejectCode::Conflict, "upgrade " + u->id.hex() + " is already rolling back");
  }
  Decision d;
  Emitter em(ctx, &d);
  em.Track(*u);
  Stop(em, u->id, how, reason.empty() ? (how == fb::Event::UpgradeCancelled ? "cancelled" : "aborted") : reason,
       ctx.actor);
  return d;
}

// A command the upgrade's phase does not allow: the phase, then why.
Decision WrongPhase(const proj::Upgrade& u, const std::string& why) {
  return Reject(fb::RejectCode::Conflict, "upgrade " + u.id.hex() + " is " + proj::PhaseName(u.phase) + why);
}

// A paused upgrade goes on (a canary promoted, an operator's pause resumed).
Decision GoOn(const proj::Upgrade& u, const Context& ctx) {
  Decision d;
  Emitter em(ctx, &d);
  em.Track(u);
  const fb::Id128 fid = u.id.fb();
  em.Emit(UpgradeStream(u.id), u.id, fb::Event::UpgradePromoted, [&](FlatBufferBuilder& fbb) {
    return fb::CreateUpgradePromoted(fbb, &fid, Str(fbb, ctx.actor)).Union();
  });
  Advance(em, u.id);
  return d;
}

Decision Promote(const fb::PromoteUpgrade& cmd, const State& state, const Context& ctx) {
  const proj::Upgrade* u = Find(state, cmd.upgrade_id());
  if (u == nullptr) return Reject(fb::RejectCode::NotFound, NotInProgress(cmd.upgrade_id()));
  if (u->phase != proj::Phase::kPaused) return WrongPhase(*u, ", not paused: nothing to promote");
  return GoOn(*u, ctx);
}

// An operator's pause: the phase becomes Paused (cause Paused, telling it
// from a canary's pause), so Advance starts no step; steps in flight finish.
// Its timeout clock stops until resumed (the status counts the paused time).
Decision Pause(const fb::PauseUpgrade& cmd, const State& state, const Context& ctx) {
  const proj::Upgrade* u = Find(state, cmd.upgrade_id());
  if (u == nullptr) return Reject(fb::RejectCode::NotFound, NotInProgress(cmd.upgrade_id()));
  if (u->phase != proj::Phase::kRunning) return WrongPhase(*u, ": only a running upgrade pauses");
  Decision d;
  Emitter em(ctx, &d);
  em.Track(*u);
  const fb::Id128 fid = u->id.fb();
  const std::string reason = S(cmd.reason());
  // `by` set is what marks an operator's pause, so it is never empty here.
  const std::string by = ctx.actor.empty() ? "an operator" : ctx.actor;
  em.Emit(UpgradeStream(u->id), u->id, fb::Event::UpgradePaused, [&](FlatBufferBuilder& fbb) {
    return fb::CreateUpgradePaused(fbb, &fid, u->weight, 0, Str(fbb, by), Str(fbb, reason)).Union();
  });
  return d;
}

Decision Resume(const fb::ResumeUpgrade& cmd, const State& state, const Context& ctx) {
  const proj::Upgrade* u = Find(state, cmd.upgrade_id());
  if (u == nullptr) return Reject(fb::RejectCode::NotFound, NotInProgress(cmd.upgrade_id()));
  if (u->phase != proj::Phase::kPaused || u->cause != proj::Phase::kPaused) {
    return WrongPhase(*u, u->phase == proj::Phase::kPaused ? " at a canary weight: promote it" : ", not paused by an operator");
  }
  return GoOn(*u, ctx);
}

StepOutcome OutcomeOf(const fb::ReportStepResult& cmd) {
  StepOutcome o;
  o.succeeded = cmd.succeeded();
  o.timed_out = cmd.timed_out();
  o.exit_code = cmd.exit_code();
  o.reason = S(cmd.reason());
  o.output_tail = S(cmd.output_tail());
  o.duration_ns = cmd.duration_ns();
  o.signer = S(cmd.signer());
  return o;
}

Decision StepResult(const fb::ReportStepResult& cmd, const State& state, const Context& ctx) {
  const proj::Upgrade* u = Find(state, cmd.upgrade_id());
  if (u == nullptr) return Reject(fb::RejectCode::NotFound, NotInProgress(cmd.upgrade_id()));
  const uint32_t step = cmd.step();
  const uint32_t n = static_cast<uint32_t>(u->plan.size());
  const bool running = step < n ? u->steps[step] == proj::StepState::kRunning
                                : u->revert_running && !u->reverts.empty() && u->reverts.front() == step - n;
  if (!running) {
    return Reject(fb::RejectCode::Conflict, "step " + std::to_string(step) + " of upgrade " + u->id.hex() + " is not running");
  }
  Decision d;
  Emitter em(ctx, &d);
  em.Track(*u);
  RecordStepResult(em, u->id, step, OutcomeOf(cmd));
  return d;
}

Decision Health(const fb::ReportHealth& cmd, const State& state, const Context& ctx) {
  const proj::Upgrade* u = Find(state, cmd.upgrade_id());
  if (u == nullptr) return Reject(fb::RejectCode::NotFound, NotInProgress(cmd.upgrade_id()));
  Decision d;
  Emitter em(ctx, &d);
  em.Track(*u);
  const fb::Id128 fid = u->id.fb();
  const std::string instance = S(cmd.instance()), detail = S(cmd.detail());
  em.Emit(UpgradeStream(u->id), u->id, fb::Event::HealthCheckRecorded, [&](FlatBufferBuilder& fbb) {
    return fb::CreateHealthCheckRecorded(fbb, &fid, Str(fbb, instance),
                                         cmd.healthy() ? fb::HealthVerdict::Healthy : fb::HealthVerdict::Unhealthy,
                                         Str(fbb, detail))
        .Union();
  });
  if (!cmd.healthy() && (u->phase == proj::Phase::kRunning || u->phase == proj::Phase::kPaused)) {
    Stop(em, u->id, fb::Event::UpgradeFailed,
         "health check failed" + (instance.empty() ? "" : " on " + instance) + (detail.empty() ? "" : ": " + detail), "");
  }
  return d;
}

Decision Timer(const fb::TimerFired& cmd, const State& state, const Context& ctx) {
  const fb::TimerKind timer = cmd.kind();
  if (timer != fb::TimerKind::Deadline && timer != fb::TimerKind::Pause) {
    return Reject(fb::RejectCode::Invalid, "unknown timer kind " + std::to_string(static_cast<int>(timer)));
  }
  const proj::Upgrade* u = Find(state, cmd.upgrade_id());
  if (u == nullptr) return Decision{};  // the upgrade ended before its timer
  Decision d;
  Emitter em(ctx, &d);
  em.Track(*u);
  const bool active = u->phase == proj::Phase::kRunning || u->phase == proj::Phase::kPaused;
  // No deadline (0) while an operator has it paused; resuming moves it on by the pause.
  const int64_t deadline = u->deadline_ns();
  if (timer == fb::TimerKind::Deadline && active && deadline != 0 && ctx.now_ns >= deadline) {
    Stop(em, u->id, fb::Event::UpgradeFailed, "timed out after " + std::to_string(u->timeout_ms) + " ms", "");
  } else if (timer == fb::TimerKind::Pause && u->phase == proj::Phase::kPaused && u->pause_until_ns > 0 &&
             ctx.now_ns >= u->pause_until_ns) {
    const fb::Id128 fid = u->id.fb();
    em.Emit(UpgradeStream(u->id), u->id, fb::Event::UpgradePromoted, [&](FlatBufferBuilder& fbb) {
      return fb::CreateUpgradePromoted(fbb, &fid, Str(fbb, "pause timer")).Union();
    });
    Advance(em, u->id);
  }
  return d;  // a stale timer decides nothing
}

Decision CreatePoint(const fb::CreateRollbackPoint& cmd, const State& state, const Context& ctx) {
  const std::string name = cmd.name()->str();
  if (const std::string why = names::NameProblem(name); !why.empty()) {
    return Invalid("rollback point is malformed",
                   {{Code::InvalidName, "name", "rollback point name '" + names::Printable(name) + "' " + why}});
  }
  if (state.status.points.count(name)) {
    return Reject(fb::RejectCode::Conflict, "rollback point '" + name + "' already exists (at seq " +
                                                std::to_string(state.status.points.at(name)) + ")");
  }
  Decision d;
  Emitter em(ctx, &d);
  const uint64_t at = state.status.seq;
  em.Emit("point/" + name, {}, fb::Event::RollbackPointCreated, [&](FlatBufferBuilder& fbb) {
    return fb::CreateRollbackPointCreated(fbb, Str(fbb, name), at).Union();
  });
  d.appends.front().new_stream = true;
  return d;
}

// What a rollback would do: components to bring back to their earlier spec
// (present now: "downgrade", absent now: "register") and to remove.
nlohmann::json RollbackPlanJson(const RollbackTarget& target, const State& state, const std::vector<proj::Component>& restore,
                                const std::vector<std::string>& remove) {
  nlohmann::json downgrade = nlohmann::json::array(), reg = nlohmann::json::array(), dereg = nlohmann::json::array();
  for (const auto& c : restore) {
    const proj::Component* now = state.registry.find(c.name);
    if (now != nullptr) downgrade.push_back({{"name", c.name}, {"from", now->version}, {"to", c.version}});
    else reg.push_back({{"name", c.name}, {"version", c.version}});
  }
  for (const auto& n : remove) {
    const proj::Component* now = state.registry.find(n);
    dereg.push_back({{"name", n}, {"version", now != nullptr ? now->version : ""}});
  }
  return {{"dry_run", true}, {"point", target.point}, {"to_seq", target.to_seq}, {"downgrade", std::move(downgrade)},
          {"register", std::move(reg)}, {"deregister", std::move(dereg)}};
}

Decision RollBack(const fb::RollBack& cmd, const State& state, const Context& ctx, const RollbackTarget* target) {
  if (target == nullptr) return Reject(fb::RejectCode::Invalid, "rollback target was not resolved");
  if (!state.status.rollbacks.empty()) {
    return Reject(fb::RejectCode::Conflict, "a rollback to a point is already in progress (" +
                                                state.status.rollbacks.begin()->first.hex() + ")");
  }
  std::vector<proj::Component> restore;
  std::vector<std::string> remove;
  for (const auto& [name, then] : target->registry.components) {
    const proj::Component* now = state.registry.find(name);
    if (now == nullptr || !(*now == then.spec)) restore.push_back(then.spec);
  }
  for (const auto& [name, now] : state.registry.components) {
    if (!target->registry.components.count(name)) remove.push_back(name);
  }
  std::vector<Issue> busy;
  auto check = [&](const std::string& name) {
    if (state.status.busy.count(name) || HasQueued(state, name)) {
      busy.push_back({Code::ComponentBusy, name, "component " + name + " has an upgrade in progress"});
    }
  };
  for (const auto& c : restore) check(c.name);
  for (const auto& n : remove) check(n);
  if (!busy.empty()) return Reject(fb::RejectCode::Conflict, "cannot roll back while upgrades are in progress", busy);
  if (cmd.dry_run()) {
    Decision dry;
    dry.result_json = RollbackPlanJson(*target, state, restore, remove).dump();
    return dry;
  }

  Decision d;
  Emitter em(ctx, &d);
  const proj::Id op = ctx.command_id;
  const fb::Id128 fid = op.fb();
  const std::string stream = "rollback/" + op.hex();
  em.Emit(stream, op, fb::Event::RollbackStarted, [&](FlatBufferBuilder& fbb) {
    std::vector<Offset<fb::ComponentSpec>> specs;
    for (const auto& c : restore) specs.push_back(proj::ToSpec(fbb, c));
    return fb::CreateRollbackStarted(fbb, &fid, Str(fbb, target->point), target->to_seq, Str(fbb, S(cmd.reason())),
                                     fbb.CreateVector(specs), fbb.CreateVectorOfStrings(remove))
        .Union();
  });
  d.appends.front().new_stream = true;
  d.ids.push_back(op);
  return d;  // Reconcile carries it out, one component at a time
}

Decision Announce(const fb::AnnounceAgent& cmd, const State& state, const Context& ctx) {
  const std::string agent = cmd.agent()->str();
  std::vector<Issue> issues;
  if (const std::string why = names::NameProblem(agent); !why.empty()) {
    issues.push_back({Code::InvalidName, "agent", "agent name '" + names::Printable(agent) + "' " + why});
  }
  std::vector<std::string> instances;
  if (cmd.instances() != nullptr && cmd.instances()->size() > names::kMaxInstances) {
    issues.push_back({Code::LimitExceeded, "instances",
                      "instances has " + std::to_string(cmd.instances()->size()) + " entries; at most " +
                          std::to_string(names::kMaxInstances) + " are accepted"});
  } else if (cmd.instances() != nullptr) {
    for (const auto* i : *cmd.instances()) {
      if (const std::string why = names::NameProblem(i->string_view()); !why.empty()) {
        issues.push_back({Code::InvalidName, "instances", "instance '" + names::Printable(i->string_view()) + "' " + why});
        if (issues.size() >= 10) break;  // enough to say what is wrong
      }
      instances.push_back(i->str());
    }
  }
  if (!issues.empty()) return Invalid("agent announcement is malformed", std::move(issues));
  // An instance is one agent's: a second agent cannot take it over (and with
  // it the right to report its steps) by announcing it too.
  for (const auto& [other, theirs] : state.status.agents) {
    if (other == agent) continue;
    for (const auto& i : instances) {
      if (std::find(theirs.begin(), theirs.end(), i) != theirs.end()) {
        return Reject(fb::RejectCode::Conflict, "instance " + i + " is announced by agent " + other);
      }
    }
  }
  if (auto it = state.status.agents.find(agent); it != state.status.agents.end() && it->second == instances) {
    return Decision{};  // already known just so
  }
  Decision d;
  Emitter em(ctx, &d);
  em.Emit("agent/" + agent, {}, fb::Event::AgentAnnounced, [&](FlatBufferBuilder& fbb) {
    return fb::CreateAgentAnnounced(fbb, Str(fbb, agent), fbb.CreateVectorOfStrings(instances)).Union();
  });
  return d;
}

}  // namespace

std::string UpgradeStream(const proj::Id& id) { return "upgrade/" + id.hex(); }

void Evolve(State& s, const fb::EventEnvelope& e) {
  proj::Evolve(s.registry, e);
  proj::Evolve(s.status, e);
}

Decision Decide(const fb::CommandEnvelope& cmd, const State& state, const Context& ctx, const Limits& limits,
                const RollbackTarget* rollback) {
  switch (cmd.command_type()) {
    case fb::Command::RegisterComponent:
      return RegisterComponent(*cmd.command_as_RegisterComponent(), state, ctx, limits);
    case fb::Command::DeregisterComponent:
      return DeregisterComponent(*cmd.command_as_DeregisterComponent(), state, ctx);
    case fb::Command::RequestUpgrade:
      return RequestUpgrade(*cmd.command_as_RequestUpgrade(), state, ctx, limits);
    case fb::Command::CancelUpgrade: {
      const auto* c = cmd.command_as_CancelUpgrade();
      return StopUpgrade(c->upgrade_id(), fb::Event::UpgradeCancelled, S(c->reason()), state, ctx);
    }
    case fb::Command::AbortUpgrade: {
      const auto* c = cmd.command_as_AbortUpgrade();
      return StopUpgrade(c->upgrade_id(), fb::Event::UpgradeAborted, S(c->reason()), state, ctx);
    }
    case fb::Command::PromoteUpgrade:
      return Promote(*cmd.command_as_PromoteUpgrade(), state, ctx);
    case fb::Command::PauseUpgrade:
      return Pause(*cmd.command_as_PauseUpgrade(), state, ctx);
    case fb::Command::ResumeUpgrade:
      return Resume(*cmd.command_as_ResumeUpgrade(), state, ctx);
    case fb::Command::CreateRollbackPoint:
      return CreatePoint(*cmd.command_as_CreateRollbackPoint(), state, ctx);
    case fb::Command::RollBack:
      return RollBack(*cmd.command_as_RollBack(), state, ctx, rollback);
    case fb::Command::ReportStepResult:
      return StepResult(*cmd.command_as_ReportStepResult(), state, ctx);
    case fb::Command::ReportHealth:
      return Health(*cmd.command_as_ReportHealth(), state, ctx);
    case fb::Command::TimerFired:
      return Timer(*cmd.command_as_TimerFired(), state, ctx);
    case fb::Command::AnnounceAgent:
      return Announce(*cmd.command_as_AnnounceAgent(), state, ctx);
    default:
      return Reject(fb::RejectCode::Invalid, std::string("not a command the decider takes: ") +
                                                 fb::EnumNameCommand(cmd.command_type()));
  }
}

}  // namespace noodle::engine
