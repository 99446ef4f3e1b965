#include "support/world.h"

#include <boost/test/unit_test.hpp>

namespace noodle::test {

void World::Apply(engine::Decision& d) {
  for (auto& append : d.appends) {
    for (auto& bytes : append.events) {
      auto* env = fb::GetMutableEventEnvelope(bytes.data());
      env->mutate_seq(log.size() + 1);
      engine::Evolve(state, *env);
      log.push_back(bytes);
    }
  }
}

engine::Decision World::Run(const std::string& command) {
  const auto* cmd = engine::cmd::VerifyCommand(command);
  BOOST_REQUIRE_MESSAGE(cmd != nullptr, "command does not verify");
  now_ns += 1'000'000;
  engine::Context ctx{now_ns, cmd->actor() ? cmd->actor()->str() : "tester", proj::Id::From(cmd->command_id()), {}};
  engine::RollbackTarget target;
  const engine::RollbackTarget* resolved = nullptr;
  if (const auto* rb = cmd->command_as_RollBack()) {
    target.to_seq = rb->to_seq();
    if (rb->point() != nullptr) {
      target.point = rb->point()->str();
      auto it = state.status.points.find(target.point);
      if (it != state.status.points.end()) target.to_seq = it->second;
    }
    target.registry = RegistryAt(target.to_seq);
    resolved = &target;
  }
  engine::Decision d = engine::Decide(*cmd, state, ctx, limits, resolved);
  Apply(d);
  for (int i = 0; i < 1000; ++i) {
    engine::Context rctx{now_ns, "engine", {0xEEEE, ++internal_ids_}, {}};
    auto next = engine::Reconcile(state, rctx, limits);
    if (!next) break;
    Apply(*next);
  }
  return d;
}

void World::Recover() {
  now_ns += 1'000'000;
  engine::Context ctx{now_ns, "engine", {0xDDDD, ++internal_ids_}, {}};
  for (auto& d : engine::Recover(state, ctx)) Apply(d);
}

std::vector<std::string> World::TypesSince(size_t from) const {
  std::vector<std::string> out;
  for (size_t i = from; i < log.size(); ++i) out.push_back(fb::EnumNameEvent(Event(i)->event_type()));
  return out;
}

proj::Registry World::RegistryAt(uint64_t seq) const {
  proj::Registry r;
  for (size_t i = 0; i < seq && i < log.size(); ++i) proj::Evolve(r, *Event(i));
  return r;
}

void World::Register(const proj::Component& c) {
  auto d = Run(engine::cmd::Register(c));
  BOOST_REQUIRE_MESSAGE(!d.rejected, "register " << c.name << ": " << d.message);
}

proj::Id World::Upgrade(engine::cmd::UpgradeRequest r) {
  proj::Id id;
  auto d = Run(engine::cmd::Upgrade(r, {}, &id));
  BOOST_REQUIRE_MESSAGE(!d.rejected, "upgrade " << r.component << ": " << d.message);
  return id;
}

void World::Step(const proj::Id& id, uint32_t step, bool ok, const std::string& reason) {
  engine::cmd::StepReport r;
  r.upgrade_id = id;
  r.step = step;
  r.succeeded = ok;
  r.exit_code = ok ? 0 : 1;
  r.reason = reason;
  auto d = Run(engine::cmd::StepResult(r));
  BOOST_REQUIRE_MESSAGE(!d.rejected, "step result: " << d.message);
}

std::string World::Phase(const proj::Id& id) const {
  if (const auto* u = Find(id)) return proj::PhaseName(u->phase);
  for (const auto& r : state.status.recent) {
    if (r.id == id) return proj::PhaseName(r.phase);
  }
  return "";
}

proj::Component MakeComponent(const std::string& name, const std::string& version, std::vector<proj::Dependency> deps) {
  proj::Component c;
  c.name = name;
  c.version = version;
  c.type = fb::ComponentType::Service;
  c.dependencies = std::move(deps);
  c.hooks["swap"] = proj::Hook{{"/bin/true"}, false, 5000};
  return c;
}

}  // namespace noodle::test
