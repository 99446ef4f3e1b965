#include "support/engine_model.h"

#include <algorithm>
#include <type_traits>

#include "noodle/envelope.h"

namespace noodle::test {
namespace {

std::string Str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }

const char* Name(fb::Event t) { return fb::EnumNameEvent(t); }


std::string Show(const proj::Id& id) { return id.hex(); }
std::string Show(const std::string& s) { return "\"" + s + "\""; }
template <typename A, typename B>
std::string Show(const std::pair<A, B>& p);
template <typename T>
std::string Show(const T& v) {
  if constexpr (std::is_arithmetic_v<T>) {
    return std::to_string(v);
  } else {
    std::string s = "[";
    for (const auto& x : v) {
      if (s.size() > 1) s += ',';
      s += Show(x);
    }
    return s + "]";
  }
}
template <typename A, typename B>
std::string Show(const std::pair<A, B>& p) {
  return Show(p.first) + ":" + Show(p.second);
}

// Adds "<what>: engine <a>, model <b>" to out when a != b.
template <typename A, typename B>
void Expect(std::vector<std::string>& out, const std::string& what, const A& engine, const B& model) {
  if (!(engine == model)) out.push_back(what + ": engine " + Show(engine) + ", model " + Show(model));
}

// The outcome each ending (or rollback-starting) event counts under in the statistics.
const char* Outcome(fb::Event t) {
  switch (t) {
    case fb::Event::UpgradeCompleted: return "completed";
    case fb::Event::UpgradeRejected: return "rejected";
    case fb::Event::UpgradeFailed: return "failed";
    case fb::Event::UpgradeCancelled: return "cancelled";
    case fb::Event::UpgradeAborted: return "aborted";
    case fb::Event::RollbackCompleted: return "rolled_back";
    case fb::Event::RollbackFailed: return "rollback_failed";
    default: return nullptr;
  }
}

const fb::Id128* UpgradeIdOf(const fb::EventEnvelope& e) {
  switch (e.event_type()) {
    case fb::Event::UpgradeFailed: return e.event_as_UpgradeFailed()->upgrade_id();
    case fb::Event::UpgradeCancelled: return e.event_as_UpgradeCancelled()->upgrade_id();
    case fb::Event::UpgradeAborted: return e.event_as_UpgradeAborted()->upgrade_id();
    case fb::Event::StepStarted: return e.event_as_StepStarted()->upgrade_id();
    case fb::Event::StepSucceeded: return e.event_as_StepSucceeded()->upgrade_id();
    case fb::Event::StepFailed: return e.event_as_StepFailed()->upgrade_id();
    default: return nullptr;
  }
}

}  // namespace

UpgradeFacts* Model::Live(const fb::Id128* id, const char* what) {
  auto it = upgrades_.find(proj::Id::From(id));
  if (it == upgrades_.end() || it->second.ended) {
    Problem(std::string(what) + " for " + (it == upgrades_.end() ? "unknown" : "ended") + " upgrade " +
            proj::Id::From(id).hex());
    return nullptr;
  }
  return &it->second;
}

void Model::Register(const proj::Component& c, uint64_t seq, bool upgrade) {
  auto [it, fresh] = components_.try_emplace(c.name);
  if (fresh && upgrade) Problem("upgrade completed for unregistered component " + c.name);
  ComponentFacts& f = it->second;
  if (fresh) f.registered_seq = seq;
  f.updated_seq = seq;
  f.version = c.version;
  f.depends_on.clear();
  for (const auto& d : c.dependencies) f.depends_on.insert(d.name);
}

void Model::End(const proj::Id& id, UpgradeFacts& u, const std::string& phase, int64_t now) {
  u.ended = true;
  u.phase = phase;
  ended_.emplace_back(id, phase);
  const int64_t d = std::max<int64_t>(0, now - u.requested_ns);
  durations_.push_back(d);
  durations_by_component_[u.component].push_back(d);
}

void Model::Stop(const fb::Id128* id, const char* phase, bool rollback, int64_t now) {
  UpgradeFacts* u = Live(id, phase);
  if (u == nullptr) return;
  if (u->phase == "rolling_back") Problem(std::string(phase) + " while rolling back");
  if (rollback) {
    u->phase = "rolling_back";
  } else {
    End(proj::Id::From(id), *u, phase, now);
  }
}

void Model::Step(const fb::EventEnvelope& e) {
  const fb::Id128* fid = UpgradeIdOf(e);
  UpgradeFacts* u = Live(fid, Name(e.event_type()));
  if (u == nullptr) return;
  const auto n = static_cast<uint32_t>(u->steps.size());
  const std::string where = " of upgrade " + proj::Id::From(fid).hex();
  if (const auto* st = e.event_as_StepStarted()) {
    if (st->revert()) {
      // Recovery starts an interrupted revert again, so it may already run.
      if (u->phase != "rolling_back" || u->reverts.empty() || u->reverts.front() != st->reverts()) {
        Problem("revert of step " + std::to_string(st->reverts()) + " started out of turn" + where);
      }
      u->revert_running = true;
    } else if (st->step() >= n || u->steps[st->step()] != "pending" || u->phase != "running") {
      Problem("step " + std::to_string(st->step()) + " started while not pending" + where);
    } else {
      u->steps[st->step()] = "running";
    }
    return;
  }
  const bool ok = e.event_type() == fb::Event::StepSucceeded;
  const uint32_t step = ok ? e.event_as_StepSucceeded()->step() : e.event_as_StepFailed()->step();
  if (step < n) {
    if (u->steps[step] != "running") Problem("result for step " + std::to_string(step) + " not running" + where);
    u->steps[step] = ok ? "succeeded" : "failed";
    return;
  }
  if (!u->revert_running || u->reverts.empty() || u->reverts.front() != step - n) {
    Problem("result for revert " + std::to_string(step) + " not running" + where);
  }
  std::erase(u->reverts, step - n);
  u->revert_running = false;
}

void Model::Apply(const fb::EventEnvelope& e) {
  if (e.seq() != seq_ + 1) Problem("seq " + std::to_string(e.seq()) + " follows " + std::to_string(seq_));
  seq_ = e.seq();
  const std::string stream = e.stream()->str();
  const uint64_t version = ++streams_[stream];
  if (e.stream_version() != version) Problem(stream + " at version " + std::to_string(e.stream_version()));
  ++counts_[e.event_type()];
  ApplyRegistry(e);
  ApplyLifecycle(e);
  ApplyEnd(e, stream.starts_with("upgrade/"));
  // Per upgrade: its stream's length and last event, and the outcomes it counts under.
  if (stream.starts_with("upgrade/")) {
    if (auto id = IdFromHex(std::string_view(stream).substr(8))) {
      auto it = upgrades_.find(proj::Id::From(&*id));
      if (it == upgrades_.end()) return Problem("event on the stream of unknown upgrade " + stream);
      ++it->second.events;
      it->second.last = e.event_type();
      if (const char* o = Outcome(e.event_type())) ++outcomes_by_component_[it->second.component][o];
    }
  }
}

// Components, named points and agents.
void Model::ApplyRegistry(const fb::EventEnvelope& e) {
  switch (e.event_type()) {
    case fb::Event::ComponentRegistered:
      Register(proj::FromSpec(*e.event_as_ComponentRegistered()->component()), seq_, false);
      break;
    case fb::Event::ComponentDeregistered:
      if (components_.erase(e.event_as_ComponentDeregistered()->name()->str()) == 0) Problem("deregistered unknown");
      break;
    case fb::Event::RollbackPointCreated: {
      const auto* p = e.event_as_RollbackPointCreated();
      if (p->upgrade_id() == nullptr || IsZero(*p->upgrade_id())) points_[p->name()->str()] = p->at_seq();
      break;
    }
    case fb::Event::AgentAnnounced: {
      const auto* a = e.event_as_AgentAnnounced();
      auto& list = agents_[a->agent()->str()];
      list.clear();
      if (a->instances() != nullptr) {
        for (const auto* i : *a->instances()) list.push_back(i->str());
      }
      break;
    }
    default:
      break;
  }
}

// An upgrade from its request to its last step.
void Model::ApplyLifecycle(const fb::EventEnvelope& e) {
  const int64_t now = e.time_ns();
  switch (e.event_type()) {
    case fb::Event::UpgradeRequested: {
      const auto* r = e.event_as_UpgradeRequested();
      const proj::Id id = proj::Id::From(r->upgrade_id());
      if (upgrades_.count(id)) Problem("upgrade " + id.hex() + " requested twice");
      UpgradeFacts& u = upgrades_[id];
      u.component = r->component()->str();
      u.to_version = r->target_version()->str();
      u.parent = proj::Id::From(r->parent_id());
      u.requested_seq = seq_;
      u.requested_ns = now;
      order_.push_back(id);
      break;
    }
    case fb::Event::UpgradeValidated: {
      const auto* v = e.event_as_UpgradeValidated();
      if (UpgradeFacts* u = Live(v->upgrade_id(), "validated")) {
        if (u->phase != "queued") Problem("validated while " + u->phase);
        // One upgrade at a time acts on a component.
        for (const auto& [other, o] : upgrades_) {
          if (&o != u && !o.ended && o.validated && o.component == u->component) {
            Problem("upgrade " + proj::Id::From(v->upgrade_id()).hex() + " of " + u->component + " started while " +
                    other.hex() + " of it is " + o.phase);
          }
        }
        u->phase = "running";
        u->validated = true;
        u->from_version = Str(v->from_version());
        u->steps.assign(v->plan() == nullptr ? 0 : v->plan()->size(), "pending");
      }
      break;
    }
    case fb::Event::UpgradeRejected: {
      const auto* r = e.event_as_UpgradeRejected();
      if (UpgradeFacts* u = Live(r->upgrade_id(), "rejected")) {
        u->from_version = Str(r->from_version());
        End(proj::Id::From(r->upgrade_id()), *u, "rejected", now);
      }
      break;
    }
    case fb::Event::StepStarted:
    case fb::Event::StepSucceeded:
    case fb::Event::StepFailed:
      Step(e);
      break;
    case fb::Event::TrafficShifted: {
      const auto* t = e.event_as_TrafficShifted();
      if (UpgradeFacts* u = Live(t->upgrade_id(), "traffic shift")) {
        if (t->from_weight() != u->weight) Problem("shift from weight " + std::to_string(t->from_weight()));
        u->weight = t->to_weight();
      }
      break;
    }
    case fb::Event::HealthCheckRecorded: {
      const auto* h = e.event_as_HealthCheckRecorded();
      if (UpgradeFacts* u = Live(h->upgrade_id(), "health check")) {
        u->unhealthy += h->verdict() == fb::HealthVerdict::Unhealthy;
      }
      break;
    }
    case fb::Event::UpgradePaused:
      if (UpgradeFacts* u = Live(e.event_as_UpgradePaused()->upgrade_id(), "pause")) {
        if (u->phase != "running") Problem("paused while " + u->phase);
        u->phase = "paused";
      }
      break;
    case fb::Event::UpgradePromoted:
      if (UpgradeFacts* u = Live(e.event_as_UpgradePromoted()->upgrade_id(), "promote")) {
        if (u->phase != "paused") Problem("promoted while " + u->phase);
        u->phase = "running";
      }
      break;
    default:
      break;
  }
}

// How an upgrade ends or stops, and the rollbacks (of one upgrade, or to a point).
void Model::ApplyEnd(const fb::EventEnvelope& e, bool upgrade_stream) {
  const int64_t now = e.time_ns();
  switch (e.event_type()) {
    case fb::Event::UpgradeCompleted: {
      const auto* c = e.event_as_UpgradeCompleted();
      if (UpgradeFacts* u = Live(c->upgrade_id(), "completed")) {
        const auto succeeded = std::count(u->steps.begin(), u->steps.end(), "succeeded");
        if (u->phase != "running" || succeeded != static_cast<long>(u->steps.size())) {
          Problem("completed while " + u->phase + " with steps not all succeeded");
        }
        proj::Component spec;
        if (c->spec() != nullptr) spec = proj::FromSpec(*c->spec());
        if (c->spec() == nullptr && components_.count(u->component)) {
          spec.name = u->component;
          for (const auto& d : components_.at(u->component).depends_on) spec.dependencies.push_back({d, ""});
        }
        spec.version = c->to_version()->str();
        Register(spec, seq_, true);
        End(proj::Id::From(c->upgrade_id()), *u, "completed", now);
      }
      break;
    }
    case fb::Event::UpgradeFailed:
      Stop(e.event_as_UpgradeFailed()->upgrade_id(), "failed", e.event_as_UpgradeFailed()->rollback(), now);
      break;
    case fb::Event::UpgradeCancelled:
      Stop(e.event_as_UpgradeCancelled()->upgrade_id(), "cancelled", e.event_as_UpgradeCancelled()->rollback(), now);
      break;
    case fb::Event::UpgradeAborted:
      Stop(e.event_as_UpgradeAborted()->upgrade_id(), "aborted", e.event_as_UpgradeAborted()->rollback(), now);
      break;
    case fb::Event::RollbackStarted: {
      const auto* r = e.event_as_RollbackStarted();
      const proj::Id id = proj::Id::From(r->upgrade_id());
      if (!upgrade_stream) {
        if (!open_rollbacks_.insert(id).second) Problem("rollback " + id.hex() + " started twice");
      } else if (UpgradeFacts* u = Live(r->upgrade_id(), "rollback start")) {
        if (u->phase != "rolling_back") Problem("rollback started while " + u->phase);
        u->reverts.clear();
        if (r->reverts() != nullptr) u->reverts.assign(r->reverts()->begin(), r->reverts()->end());
      }
      break;
    }
    case fb::Event::RollbackCompleted:
    case fb::Event::RollbackFailed: {
      const bool ok = e.event_type() == fb::Event::RollbackCompleted;
      const fb::Id128* fid =
          ok ? e.event_as_RollbackCompleted()->upgrade_id() : e.event_as_RollbackFailed()->upgrade_id();
      if (!upgrade_stream) {
        if (open_rollbacks_.erase(proj::Id::From(fid)) == 0) Problem("end of a rollback not in progress");
      } else if (UpgradeFacts* u = Live(fid, "rollback end")) {
        const bool steps_left = u->revert_running || !u->reverts.empty() ||
                                std::count(u->steps.begin(), u->steps.end(), "running") > 0;
        if (u->phase != "rolling_back" || steps_left) Problem("rollback ended with steps running or left to revert");
        ++(ok ? upgrade_rollbacks_completed_ : upgrade_rollbacks_failed_);
        End(proj::Id::From(fid), *u, ok ? "rolled_back" : "rollback_failed", now);
      }
      break;
    }
    default:
      break;
  }
}

std::set<std::pair<proj::Id, uint32_t>> Model::RunningSteps() const {
  std::set<std::pair<proj::Id, uint32_t>> out;
  for (const auto& [id, u] : upgrades_) {
    if (u.ended) continue;
    for (uint32_t i = 0; i < u.steps.size(); ++i) {
      if (u.steps[i] == "running") out.insert({id, i});
    }
    if (u.revert_running && !u.reverts.empty()) {
      out.insert({id, static_cast<uint32_t>(u.steps.size()) + u.reverts.front()});
    }
  }
  return out;
}

std::vector<std::string> Model::Diff(const engine::State& s) const {
  std::vector<std::string> out;
  Expect(out, "registry seq", s.registry.seq, seq_);
  Expect(out, "status seq", s.status.seq, seq_);
  std::map<std::string, std::set<std::string>> dependents;
  std::vector<std::string> names;
  for (const auto& [name, c] : components_) {
    names.push_back(name);
    for (const auto& d : c.depends_on) dependents[d].insert(name);
    auto it = s.registry.components.find(name);
    if (it == s.registry.components.end()) continue;
    const auto& spec = it->second.spec;
    Expect(out, "component " + name + " version", spec.version, c.version);
    Expect(out, "component " + name + " registered_seq", it->second.registered_seq, c.registered_seq);
    Expect(out, "component " + name + " updated_seq", it->second.updated_seq, c.updated_seq);
  }
  std::vector<std::string> engine_names;
  for (const auto& [name, e] : s.registry.components) engine_names.push_back(name);
  Expect(out, "components", engine_names, names);
  Expect(out, "dependents", s.registry.dependents, dependents);
  DiffUpgrades(s.status, out);
  Expect(out, "points", s.status.points, points_);
  std::set<proj::Id> rollbacks;
  for (const auto& [id, op] : s.status.rollbacks) rollbacks.insert(id);
  Expect(out, "rollbacks in progress", rollbacks, open_rollbacks_);
  Expect(out, "agents", s.status.agents, agents_);
  return out;
}

void Model::DiffUpgrades(const proj::Status& st, std::vector<std::string>& out) const {
  std::map<std::string, proj::Id> busy;
  std::map<std::string, uint32_t> queued;
  std::set<proj::Id> live, engine_live;
  for (const auto& [id, u] : upgrades_) {
    if (u.ended) continue;
    live.insert(id);
    if (u.phase == "queued") ++queued[u.component];
    else busy[u.component] = id;
    const proj::Upgrade* e = st.find(id);
    if (e == nullptr) continue;
    const std::string what = "upgrade " + id.hex() + " of " + u.component + " (" + std::to_string(u.events) +
                             " events, last " + Name(u.last) + ") ";
    Expect(out, what + "phase", std::string(proj::PhaseName(e->phase)), u.phase);
    Expect(out, what + "component", e->component, u.component);
    Expect(out, what + "to", e->to_version, u.to_version);
    Expect(out, what + "from", e->from_version, u.from_version);
    Expect(out, what + "parent", e->parent, u.parent);
    Expect(out, what + "requested_seq", e->requested_seq, u.requested_seq);
    std::vector<std::string> steps;
    for (auto x : e->steps) steps.push_back(proj::StepStateName(x));
    Expect(out, what + "steps", steps, u.steps);
    Expect(out, what + "reverts", e->reverts, u.reverts);
    Expect(out, what + "revert_running", e->revert_running, u.revert_running);
    Expect(out, what + "weight", e->weight, u.weight);
    Expect(out, what + "unhealthy checks", e->unhealthy, u.unhealthy);
  }
  for (const auto& [id, u] : st.upgrades) engine_live.insert(id);
  Expect(out, "upgrades in progress", engine_live, live);
  Expect(out, "busy", st.busy, busy);
  Expect(out, "queued", st.queued, queued);
  Expect(out, "history_count", st.history_count, uint64_t{ended_.size()});
  // The newest ended upgrades, in the order they ended, with how they ended.
  const size_t keep = std::min(ended_.size(), proj::Status::kRecentKept);
  std::vector<std::pair<proj::Id, std::string>> recent;
  for (const auto& r : st.recent) recent.emplace_back(r.id, proj::PhaseName(r.phase));
  Expect(out, "recent", recent, std::vector<std::pair<proj::Id, std::string>>(ended_.end() - keep, ended_.end()));
}

std::vector<std::string> Model::Diff(const proj::Statistics& st) const {
  std::vector<std::string> out;
  Expect(out, "statistics seq", st.seq, seq_);
  // Every ending event counts once under its outcome; the rollback ends
  // only count on upgrade streams (a rollback to a point is no upgrade).
  std::map<std::string, uint64_t> outcomes;
  for (auto t : {fb::Event::UpgradeCompleted, fb::Event::UpgradeRejected, fb::Event::UpgradeFailed,
                 fb::Event::UpgradeCancelled, fb::Event::UpgradeAborted}) {
    if (count(t) > 0) outcomes[Outcome(t)] = count(t);
  }
  if (upgrade_rollbacks_completed_ > 0) outcomes["rolled_back"] = upgrade_rollbacks_completed_;
  if (upgrade_rollbacks_failed_ > 0) outcomes["rollback_failed"] = upgrade_rollbacks_failed_;
  Expect(out, "outcomes", st.overall.outcomes, outcomes);
  // The engine keeps durations in a histogram: the model's exact ones, put
  // in the same buckets, must give the same one.
  auto histogram = [](const std::vector<int64_t>& ds) {
    proj::DurationHistogram h;
    for (int64_t d : ds) h.Add(d);
    return h;
  };
  auto counts = [](const proj::DurationHistogram& h) {
    return std::to_string(h.count) + " durations, " + std::to_string(h.min_ns) + ".." + std::to_string(h.max_ns);
  };
  if (!(st.overall.durations == histogram(durations_))) {
    out.push_back("durations: engine " + counts(st.overall.durations) + ", model " + counts(histogram(durations_)));
  }
  std::map<std::string, std::map<std::string, uint64_t>> per_outcomes;
  std::set<std::string> with_durations, model_with_durations;
  for (const auto& [name, t] : st.per_component) {
    if (!t.outcomes.empty()) per_outcomes[name] = t.outcomes;
    if (t.durations.count == 0) continue;
    with_durations.insert(name);
    auto it = durations_by_component_.find(name);
    const auto model = histogram(it == durations_by_component_.end() ? std::vector<int64_t>{} : it->second);
    if (!(t.durations == model)) {
      out.push_back("durations of " + name + ": engine " + counts(t.durations) + ", model " + counts(model));
    }
  }
  for (const auto& [name, ds] : durations_by_component_) {
    if (!ds.empty()) model_with_durations.insert(name);
  }
  Expect(out, "outcomes per component", per_outcomes, outcomes_by_component_);
  Expect(out, "components with durations", with_durations, model_with_durations);
  std::map<proj::Id, std::pair<std::string, int64_t>> open, engine_open;
  for (const auto& [id, u] : upgrades_) {
    if (!u.ended) open[id] = {u.component, u.requested_ns};
  }
  for (const auto& [id, o] : st.open) engine_open[id] = {o.component, o.requested_ns};
  Expect(out, "open upgrades", engine_open, open);
  return out;
}

}  // namespace noodle::test
