#include "seed_state.h"

#include <cstdlib>

#include "noodle/envelope.h"
#include "noodle/protocol/commands.h"

namespace noodle::fuzz {
namespace {

proj::Component Spec(const std::string& name, const std::string& version, std::vector<proj::Dependency> deps) {
  proj::Component c;
  c.name = name;
  c.version = version;
  c.dependencies = std::move(deps);
  c.instances = {name + "-1", name + "-2"};
  return c;
}

SeedState Build() {
  SeedState s;
  engine::cmd::Meta meta;
  meta.actor = "fuzz";
  meta.time_ns = 1'700'000'000'000'000'000;
  engine::Context ctx;
  ctx.actor = "fuzz";
  const engine::Limits limits;
  engine::cmd::UpgradeRequest canary;
  canary.component = "web";
  canary.target_version = "3.1.0";
  canary.strategy.kind = fb::StrategyKind::Canary;
  canary.strategy.weights = {10, 50, 100};
  canary.timeout_ms = 60'000;
  // Fixed ids: the seed state, and so every fuzz run, is the same each time.
  canary.upgrade_id = proj::Id{0x0193'0000'0000'0001, 1};
  const auto with_id = [&](uint64_t n) {
    engine::cmd::Meta m = meta;
    m.command_id = proj::Id{0x0193'0000'0000'0000, n};
    return m;
  };
  const std::vector<std::string> commands = {
      engine::cmd::Register(Spec("db", "1.4.0", {}), with_id(1)),
      engine::cmd::Register(Spec("web", "3.0.0", {{"db", "^1.4"}}), with_id(2)),
      engine::cmd::Point("before-release", with_id(3)),
      engine::cmd::Upgrade(canary, with_id(4)),
  };
  for (const auto& bytes : commands) {
    const fb::CommandEnvelope* cmd = engine::cmd::VerifyCommand(bytes);
    if (cmd == nullptr) std::abort();
    ctx.now_ns = meta.time_ns;
    ctx.command_id = proj::Id::From(cmd->command_id());
    Apply(engine::Decide(*cmd, s.state, ctx, limits), &s.state, &s.statistics, &s.events);
  }
  return s;
}

}  // namespace

const SeedState& Seed() {
  static const SeedState seed = Build();
  return seed;
}

void Apply(const engine::Decision& d, engine::State* state, proj::Statistics* statistics,
           std::vector<std::string>* events) {
  for (const auto& batch : d.appends) {
    for (const auto& bytes : batch.events) {
      const fb::EventEnvelope* e = VerifyEnvelope(bytes);
      if (e == nullptr) std::abort();  // the decider must never write an event that does not verify
      engine::Evolve(*state, *e);
      if (statistics != nullptr) proj::Evolve(*statistics, *e);
      if (events != nullptr) events->push_back(bytes);
    }
  }
}

}  // namespace noodle::fuzz
