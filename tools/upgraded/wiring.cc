#include "wiring.h"

#include "noodle/engine/commands.h"
#include "noodle/engine/reply.h"

namespace noodle::daemon {

bus::CommandHandler EngineHandler(engine::Engine* engine) {
  return [engine](std::string command, Principal who, std::function<void(std::string)> respond) {
    proj::Id id;
    if (const auto* cmd = engine::cmd::VerifyCommand(command)) id = proj::Id::From(cmd->command_id());
    engine->Submit(std::move(command), std::move(who), [id, respond = std::move(respond)](engine::Reply r) {
      respond(engine::EncodeReply(id, r));
    });
  };
}

bus::ReplaySource LogReplay(store::EventLog* log) {
  return [log](uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* out, uint64_t* last) {
    *last = log->LastSeq();
    auto it = log->Scan(from, until == 0 ? UINT64_MAX : until);
    for (; it->Valid() && out->size() < max; it->Next()) out->emplace_back(it->bytes());
    return it->status();
  };
}

}  // namespace noodle::daemon
