#include "noodle/engine/authorize.h"

#include <algorithm>

#include "emitter.h"

namespace noodle::engine {
namespace {

std::string RolesOf(const Principal& who) {
  std::string out;
  for (uint32_t r : {kRoleObserver, kRoleOperator, kRoleAdmin, kRoleAgent}) {
    if (!who.Has(r)) continue;
    if (!out.empty()) out += ',';
    out += RoleName(r);
  }
  return out.empty() ? "no role" : out;
}

Denial Needs(const Principal& who, fb::Command type, uint32_t role) {
  return {std::string(RoleName(role)), who.name + " (" + RolesOf(who) + ") may not " + fb::EnumNameCommand(type) +
                                           ": needs the " + std::string(RoleName(role)) + " role"};
}

Denial NotYours(const Principal& who, fb::Command type, const std::string& why) {
  return {"", who.name + " may not " + std::string(fb::EnumNameCommand(type)) + ": " + why};
}

std::string PluginOf(const proj::Component& c) {
  auto it = c.metadata.find("plugin");
  return it == c.metadata.end() ? "" : it->second;
}

}  // namespace

bool ChangesWhatRuns(const proj::Component& target, const proj::Component* now) {
  if (now == nullptr) return true;
  return target.hooks != now->hooks || PluginOf(target) != PluginOf(*now) || target.executor != now->executor ||
         target.instances != now->instances ||
         (now->artifact_require_signature && !target.artifact_require_signature);
}

namespace {

bool RequestChangesWhatRuns(const fb::RequestUpgrade& req, const State& state) {
  if (req.target() == nullptr) return false;
  const proj::Component target = proj::FromSpec(*req.target());
  const proj::Component* now = state.registry.find(req.component()->str());
  if (now == nullptr) return !target.hooks.empty() || !PluginOf(target).empty();
  return ChangesWhatRuns(target, now);
}

// The instance a running step of u works on, if step is running; nullopt otherwise.
std::optional<std::string> RunningInstance(const proj::Upgrade& u, uint32_t step) {
  const auto n = static_cast<uint32_t>(u.plan.size());
  if (step < n) {
    if (u.steps[step] != proj::StepState::kRunning) return std::nullopt;
    return u.plan[step].instance;
  }
  if (!u.revert_running || u.reverts.empty() || u.reverts.front() != step - n) return std::nullopt;
  return u.plan[step - n].instance;
}

bool Announced(const State& state, const std::string& agent, const std::string& instance) {
  auto it = state.status.agents.find(agent);
  return it != state.status.agents.end() && !instance.empty() &&
         std::find(it->second.begin(), it->second.end(), instance) != it->second.end();
}

// An agent's report: only for an Agent-executed upgrade, on an instance it
// announced, while a step on that instance runs.
std::optional<Denial> AgentReport(const Principal& who, fb::Command type, const fb::Id128* id, uint32_t step,
                                  const std::string* health_instance, const State& state) {
  if (!who.Has(kRoleAgent)) return Needs(who, type, kRoleAgent);
  const proj::Upgrade* u = id == nullptr ? nullptr : state.status.find(proj::Id::From(id));
  // Unknown or ended upgrades are the decider's to refuse (NotFound); nothing to protect.
  if (u == nullptr) return std::nullopt;
  if (u->target.executor != fb::ExecutorKind::Agent) {
    return NotYours(who, type, "upgrade " + u->id.hex() + " is run by the engine, not by an agent");
  }
  if (health_instance != nullptr) {
    if (!Announced(state, who.name, *health_instance)) {
      return NotYours(who, type, "instance '" + *health_instance + "' is not one agent " + who.name + " announced");
    }
    for (uint32_t k = 0; k < 2 * u->plan.size(); ++k) {
      if (auto inst = RunningInstance(*u, k); inst && *inst == *health_instance) return std::nullopt;
    }
    return NotYours(who, type, "no step runs on instance '" + *health_instance + "'");
  }
  const auto inst = RunningInstance(*u, step);
  if (!inst) return std::nullopt;  // not running: the decider answers Conflict
  if (!Announced(state, who.name, *inst)) {
    return NotYours(who, type,
                    "step " + std::to_string(step) + " runs on '" + *inst + "', not an instance agent " + who.name +
                        " announced");
  }
  return std::nullopt;
}

}  // namespace

std::optional<Denial> AuthorizeRollback(const Principal& who, const RollbackTarget& target, const State& state) {
  if (who.engine || who.Has(kRoleAdmin)) return std::nullopt;
  auto needs_admin = [&](const std::string& why) {
    Denial d = Needs(who, fb::Command::RollBack, kRoleAdmin);
    d.reason += " (" + why + ")";
    return d;
  };
  for (const auto& [name, then] : target.registry.components) {
    const proj::Component* now = state.registry.find(name);
    if (now == nullptr) return needs_admin("it registers " + name + " again");
    if (ChangesWhatRuns(then.spec, now)) {
      return needs_admin("it brings back other hooks, plugin or instances of " + name);
    }
  }
  for (const auto& [name, now] : state.registry.components) {
    if (target.registry.find(name) == nullptr) return needs_admin("it deregisters " + name);
  }
  return std::nullopt;
}

bool IsQuery(fb::Command type) {
  switch (type) {
    case fb::Command::QueryStatus:
    case fb::Command::QueryRegistry:
    case fb::Command::QueryStatistics:
    case fb::Command::QueryEvents:
      return true;
    default:
      return false;
  }
}

std::optional<Denial> Authorize(const Principal& who, const fb::CommandEnvelope& cmd, const State& state) {
  if (who.engine) return std::nullopt;
  const fb::Command type = cmd.command_type();
  if (IsQuery(type)) {
    if (who.roles == 0) return Needs(who, type, kRoleObserver);
    return std::nullopt;
  }
  switch (type) {
    case fb::Command::RegisterComponent:
    case fb::Command::DeregisterComponent:
      return who.Has(kRoleAdmin) ? std::nullopt : std::optional(Needs(who, type, kRoleAdmin));
    case fb::Command::RequestUpgrade: {
      if (!who.Has(kRoleOperator)) return Needs(who, type, kRoleOperator);
      if (!who.Has(kRoleAdmin) && RequestChangesWhatRuns(*cmd.command_as_RequestUpgrade(), state)) {
        Denial d = Needs(who, type, kRoleAdmin);
        d.reason += " (the target changes hooks, the plugin, the executor, the instances or drops require_signature)";
        return d;
      }
      return std::nullopt;
    }
    case fb::Command::CancelUpgrade:
    case fb::Command::PromoteUpgrade:
    case fb::Command::PauseUpgrade:
    case fb::Command::ResumeUpgrade:
    case fb::Command::AbortUpgrade:
    case fb::Command::CreateRollbackPoint:
    case fb::Command::RollBack:
      return who.Has(kRoleOperator) ? std::nullopt : std::optional(Needs(who, type, kRoleOperator));
    case fb::Command::TimerFired:
      return NotYours(who, type, "timers are the engine's own");
    case fb::Command::AnnounceAgent: {
      if (!who.Has(kRoleAgent)) return Needs(who, type, kRoleAgent);
      const auto* a = cmd.command_as_AnnounceAgent();
      if (!who.unauthenticated && a->agent()->str() != who.name) {
        return NotYours(who, type, "an agent key announces only its own name (" + who.name + ")");
      }
      return std::nullopt;
    }
    case fb::Command::ReportStepResult: {
      if (who.unauthenticated) return std::nullopt;
      const auto* r = cmd.command_as_ReportStepResult();
      return AgentReport(who, type, r->upgrade_id(), r->step(), nullptr, state);
    }
    case fb::Command::ReportHealth: {
      if (who.unauthenticated) return std::nullopt;
      const auto* r = cmd.command_as_ReportHealth();
      const std::string instance = r->instance() ? r->instance()->str() : "";
      return AgentReport(who, type, r->upgrade_id(), 0, &instance, state);
    }
    default:
      return std::nullopt;  // not a command at all: the decider refuses it Invalid, nothing recorded
  }
}

Decision Refuse(const Principal& who, fb::Command type, const Denial& denial, bool record, uint32_t suppressed,
                const Context& ctx) {
  Decision d;
  d.rejected = true;
  d.code = fb::RejectCode::Unauthorized;
  d.message = denial.reason;
  if (!record) return d;
  Emitter em(ctx, &d);
  em.Emit("security/refusals", {}, fb::Event::CommandRefused, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreateCommandRefused(fbb, Str(fbb, who.name), Str(fbb, fb::EnumNameCommand(type)),
                                    Str(fbb, denial.missing_role), Str(fbb, denial.reason), suppressed)
        .Union();
  });
  return d;
}

bool RefusalLimiter::Admit(int64_t now_ns, uint32_t* suppressed) {
  if (now_ns - window_start_ns_ >= 1'000'000'000) {
    window_start_ns_ = now_ns;
    in_window_ = 0;
  }
  if (in_window_ >= per_second_) {
    ++suppressed_;
    ++dropped_total_;
    return false;
  }
  ++in_window_;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

}  // namespace noodle::engine
