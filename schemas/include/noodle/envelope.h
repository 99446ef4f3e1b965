// Building and checking event envelopes: the one place that knows how an
// EventEnvelope buffer is laid out for the log (which fields the log fills in).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "noodle/fb/events_generated.h"

namespace noodle {

// What a writer says about an event; seq, stream version and hashes are the log's.
struct EventMeta {
  fb::Id128 event_id;
  std::string_view stream;
  int64_t time_ns = 0;
  std::string_view actor;
  fb::Id128 correlation_id;
  fb::Id128 causation_id;
};

// Finishes fbb with an EventEnvelope around payload (a table of type `type`
// already built in fbb) and returns the bytes. The seq, stream_version,
// prev_hash and hash fields are present and zero, so the log can fill them
// in place without re-encoding.
std::string FinishEvent(flatbuffers::FlatBufferBuilder& fbb, const EventMeta& meta,
                        fb::Event type, flatbuffers::Offset<void> payload);

// The envelope in bytes if they pass the FlatBuffers Verifier (identifier
// included), nullptr otherwise. Never reads outside bytes.
const fb::EventEnvelope* VerifyEnvelope(std::string_view bytes);

// A new random id whose high half starts with the time in ms, so ids sort
// roughly by creation time (friendlier to indexes than fully random ids).
fb::Id128 NewId();
// 32 lowercase hex digits, high half first.
std::string IdToHex(const fb::Id128& id);
// Accepts 32 hex digits, dashes anywhere ignored (UUID form).
std::optional<fb::Id128> IdFromHex(std::string_view text);
bool IsZero(const fb::Id128& id);

std::string HashToHex(const fb::Hash256& hash);
// Exactly 64 hex digits, either case.
std::optional<fb::Hash256> HashFromHex(std::string_view text);

// The binary schema (.bfbs) of events.fbs, for generic JSON <-> FlatBuffers.
std::string_view EventsSchemaBinary();

}  // namespace noodle
