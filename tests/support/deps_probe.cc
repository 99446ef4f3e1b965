// Linked with noodle_core and noodle_protocol alone, and checked by
// deps_check.cmake: what they pull in is what this program needs.
#include <cstdio>

#include "noodle/engine/decider.h"
#include "noodle/engine/semver.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"

int main() {
  using namespace noodle;
  engine::State state;
  const std::string command = engine::cmd::Deregister("probe", "deps check");
  const auto* cmd = engine::cmd::VerifyCommand(command);
  const engine::Decision d = engine::Decide(*cmd, state, engine::Context{1, "probe", {}, {}}, engine::Limits{}, nullptr);
  const std::string reply = engine::EncodeReply({}, engine::Reply{});
  std::printf("%d %zu %d\n", semver::Parse("1.2.3").ok() ? 1 : 0, reply.size(), d.rejected ? 1 : 0);
  return 0;
}
