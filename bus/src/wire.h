// Shared by the bus's server and client: request ids, aligned copies,
// and converting ZeroMQ exceptions into Status at this edge. Internal.
#pragma once

#include <cstring>
#include <string>
#include <zmq.hpp>

#include "noodle/fb/bus_generated.h"
#include "noodle/status.h"

namespace noodle::bus::wire {

inline std::string RequestId(uint64_t n) {
  std::string id(8, '\0');
  std::memcpy(id.data(), &n, 8);
  return id;
}

// FlatBuffers reads scalars in place; frames carry no alignment promise.
inline std::string Aligned(const zmq::message_t& m) { return std::string(static_cast<const char*>(m.data()), m.size()); }

// A SignedHead table copied into fbb (the replay header carries one; a
// client hands it on as a buffer of its own).
inline flatbuffers::Offset<fb::SignedHead> CopySignedHead(flatbuffers::FlatBufferBuilder& fbb, const fb::SignedHead& h) {
  auto key_id = fbb.CreateString(h.key_id() ? h.key_id()->str() : "");
  auto pub = h.public_key() ? fbb.CreateVector(h.public_key()->data(), h.public_key()->size()) : 0;
  auto sig = h.signature() ? fbb.CreateVector(h.signature()->data(), h.signature()->size()) : 0;
  return fb::CreateSignedHead(fbb, h.seq(), h.hash(), h.time_ns(), key_id, pub, sig);
}

inline Status FromZmq(const zmq::error_t& e, const std::string& what) {
  return Status::IOError(what + ": " + e.what());
}

}  // namespace noodle::bus::wire
