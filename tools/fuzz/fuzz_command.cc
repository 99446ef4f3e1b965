// Command envelopes from the bus: the Verifier, then the pure decider on a
// seeded state, then the resulting events folded. Nothing may crash, and
// every event the decider writes must verify.
#include <cstdint>
#include <string>

#include "noodle/protocol/commands.h"
#include "seed_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);  // aligned copy
  const noodle::fb::CommandEnvelope* cmd = noodle::engine::cmd::VerifyCommand(bytes);
  if (cmd == nullptr) return 0;
  noodle::engine::State state = noodle::fuzz::Seed().state;
  noodle::engine::Context ctx;
  ctx.now_ns = 1'700'000'001'000'000'000;
  ctx.actor = "fuzz";
  ctx.command_id = noodle::proj::Id::From(cmd->command_id());
  const noodle::engine::Limits limits;
  noodle::fuzz::Apply(noodle::engine::Decide(*cmd, state, ctx, limits), &state, nullptr);
  return 0;
}
