// Replies on the wire: engine::Reply <-> the FlatBuffers Reply of commands.fbs.
#pragma once

#include <string>
#include <string_view>

#include "noodle/engine/engine.h"

namespace noodle::engine {

// The Reply buffer (no file identifier; root table Reply) for command_id.
std::string EncodeReply(const proj::Id& command_id, const Reply& reply);

// Decodes a Reply buffer after verifying it. Corruption when it does not verify.
Status DecodeReply(std::string_view bytes, Reply* reply, proj::Id* command_id = nullptr);

}  // namespace noodle::engine
