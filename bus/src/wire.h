// Shared by the bus's server and client: request ids, aligned copies,
// and converting ZeroMQ exceptions into Status at this edge. Internal.
#pragma once

#include <cstring>
#include <string>
#include <zmq.hpp>

#include "noodle/status.h"

namespace noodle::bus::wire {

inline std::string RequestId(uint64_t n) {
  std::string id(8, '\0');
  std::memcpy(id.data(), &n, 8);
  return id;
}

// FlatBuffers reads scalars in place; frames carry no alignment promise.
inline std::string Aligned(const zmq::message_t& m) { return std::string(static_cast<const char*>(m.data()), m.size()); }

inline Status FromZmq(const zmq::error_t& e, const std::string& what) {
  return Status::IOError(what + ": " + e.what());
}

}  // namespace noodle::bus::wire
