#include "noodle/engine/bus_wiring.h"

#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"

namespace noodle::daemon {

bus::CommandHandler EngineHandler(engine::Engine* engine, std::function<void(const engine::Reply&)> on_reply) {
  return [engine, on_reply](std::string command, Principal who, std::function<void(std::string)> respond) {
    proj::Id id;
    if (const auto* cmd = engine::cmd::VerifyCommand(command)) id = proj::Id::From(cmd->command_id());
    engine->Submit(std::move(command), std::move(who), [id, on_reply, respond = std::move(respond)](engine::Reply r) {
      if (on_reply) on_reply(r);
      respond(engine::EncodeReply(id, r));
    });
  };
}

bus::BoundedReplaySource LogReplay(store::EventLog* log) {
  return [log](uint64_t from, uint64_t until, uint32_t max, uint64_t max_bytes, std::vector<std::string>* out,
               uint64_t* last) {
    *last = log->LastSeq();
    auto it = log->Scan(from, until == 0 ? UINT64_MAX : until);
    uint64_t bytes = 0;
    // The batch's memory is bounded while it is read: at least one event.
    for (; it->Valid() && out->size() < max && (out->empty() || bytes < max_bytes); it->Next()) {
      bytes += it->bytes().size();
      out->emplace_back(it->bytes());
    }
    return it->status();
  };
}

}  // namespace noodle::daemon
