#include "state_json.h"

#include <nlohmann/json.hpp>

#include "noodle/envelope.h"
#include "noodle/projections/status.h"

namespace noodle::dashboard {
namespace {

using nlohmann::json;

json ComponentJson(const proj::RegistryEntry& entry) {
  const proj::Component& c = entry.spec;
  json deps = json::array();
  for (const auto& d : c.dependencies) deps.push_back({{"name", d.name}, {"range", d.range}});
  return {{"name", c.name},
          {"version", c.version},
          {"type", fb::EnumNameComponentType(c.type)},
          {"critical", c.critical},
          {"dependencies", std::move(deps)},
          {"instances", c.instances},
          {"updated_seq", entry.updated_seq}};
}

json UpgradeJson(const proj::Upgrade& u) {
  json steps = json::array();
  for (size_t i = 0; i < u.plan.size(); ++i) {
    const proj::PlanStep& p = u.plan[i];
    steps.push_back({{"action", proj::StepActionName(p.action)},
                     {"instance", p.instance},
                     {"weight", p.weight},
                     {"pause", p.pause},
                     {"state", i < u.steps.size() ? proj::StepStateName(u.steps[i]) : "pending"}});
  }
  return {{"id", u.id.hex()},
          {"component", u.component},
          {"from", u.from_version},
          {"to", u.to_version},
          {"strategy", fb::EnumNameStrategyKind(u.strategy.kind)},
          {"phase", proj::PhaseName(u.phase)},
          {"weight", u.weight},
          {"unhealthy_checks", u.unhealthy},
          {"healthy", u.unhealthy == 0},
          {"reason", u.reason},
          {"requested_by", u.requested_by},
          {"requested_ns", u.requested_ns},
          {"steps", std::move(steps)}};
}

json SummaryJson(const proj::UpgradeSummary& u) {
  return {{"id", u.id.hex()},         {"component", u.component},     {"from", u.from_version},
          {"to", u.to_version},       {"phase", proj::PhaseName(u.phase)}, {"reason", u.reason},
          {"requested_ns", u.requested_ns}, {"finished_ns", u.finished_ns}};
}

}  // namespace

std::string StateJson(const engine::State& state, const Audit& audit) {
  const proj::Status& st = state.status;
  json components = json::array(), upgrades = json::array(), recent = json::array(), points = json::array();
  for (const auto& [name, entry] : state.registry.components) components.push_back(ComponentJson(entry));
  for (const auto& [id, u] : st.upgrades) upgrades.push_back(UpgradeJson(u));
  for (auto it = st.recent.rbegin(); it != st.recent.rend(); ++it) recent.push_back(SummaryJson(*it));
  for (const auto& [name, seq] : st.points) points.push_back({{"name", name}, {"seq", seq}});
  json rollbacks = json::array();
  for (const auto& [id, op] : st.rollbacks) {
    rollbacks.push_back({{"id", id.hex()}, {"point", op.point}, {"to_seq", op.to_seq}, {"reason", op.reason}});
  }
  const json out = {{"seq", std::max(st.seq, state.registry.seq)},
                    {"components", std::move(components)},
                    {"upgrades", std::move(upgrades)},
                    {"recent", std::move(recent)},
                    {"history_count", st.history_count},
                    {"rollback_points", std::move(points)},
                    {"rollbacks", std::move(rollbacks)},
                    {"audit", {{"verified_at_start", audit.verified_at_start}, {"detail", audit.detail}}}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string EventJson(const fb::EventEnvelope& e, const engine::State& state) {
  const std::string stream = e.stream() != nullptr ? e.stream()->str() : std::string();
  json out = {{"seq", e.seq()},
              {"type", fb::EnumNameEvent(e.event_type())},
              {"stream", stream},
              {"time_ns", e.time_ns()},
              {"actor", e.actor() != nullptr ? e.actor()->str() : std::string()}};
  constexpr std::string_view kUpgrade = "upgrade/";
  if (stream.starts_with(kUpgrade)) {
    const std::string hex = stream.substr(kUpgrade.size());
    out["upgrade"] = hex;
    if (auto id = IdFromHex(hex)) {
      if (const proj::Upgrade* u = state.status.find(proj::Id::From(&*id))) {
        out["component"] = u->component;
        out["phase"] = proj::PhaseName(u->phase);
        out["weight"] = u->weight;
      } else {
        for (const auto& s : state.status.recent) {  // ended in this round
          if (s.id == proj::Id::From(&*id)) {
            out["component"] = s.component;
            out["phase"] = proj::PhaseName(s.phase);
          }
        }
      }
    }
  }
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace noodle::dashboard
