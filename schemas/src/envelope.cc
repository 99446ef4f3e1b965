#include "noodle/envelope.h"

#include <chrono>
#include <random>

namespace noodle {

std::string FinishEvent(flatbuffers::FlatBufferBuilder& fbb, const EventMeta& meta,
                        fb::Event type, flatbuffers::Offset<void> payload) {
  auto stream = fbb.CreateString(meta.stream.data(), meta.stream.size());
  auto actor = fbb.CreateString(meta.actor.data(), meta.actor.size());
  const fb::Hash256 zero_hash;
  // Force the log-owned scalars into the buffer so they can be set in place.
  fbb.ForceDefaults(true);
  fb::EventEnvelopeBuilder b(fbb);
  b.add_seq(0);
  b.add_stream_version(0);
  b.add_time_ns(meta.time_ns);
  b.add_stream(stream);
  b.add_actor(actor);
  b.add_event_id(&meta.event_id);
  b.add_correlation_id(&meta.correlation_id);
  b.add_causation_id(&meta.causation_id);
  b.add_prev_hash(&zero_hash);
  b.add_hash(&zero_hash);
  b.add_event_type(type);
  b.add_event(payload);
  fb::FinishEventEnvelopeBuffer(fbb, b.Finish());
  fbb.ForceDefaults(false);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

const fb::EventEnvelope* VerifyEnvelope(std::string_view bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  // Default depth/table limits guard against hostile nesting; the buffer size
  // bounds every offset.
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifyEventEnvelopeBuffer(verifier)) return nullptr;
  return fb::GetEventEnvelope(data);
}

fb::Id128 NewId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  return fb::Id128((ms << 16) | (rng() & 0xffff), rng());
}

namespace {
constexpr char kHex[] = "0123456789abcdef";

void AppendHex(uint64_t v, std::string* out) {
  for (int shift = 60; shift >= 0; shift -= 4) out->push_back(kHex[(v >> shift) & 0xf]);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string IdToHex(const fb::Id128& id) {
  std::string out;
  out.reserve(32);
  AppendHex(id.hi(), &out);
  AppendHex(id.lo(), &out);
  return out;
}

std::optional<fb::Id128> IdFromHex(std::string_view text) {
  uint64_t halves[2] = {0, 0};
  int digits = 0;
  for (char c : text) {
    if (c == '-') continue;
    const int v = HexValue(c);
    if (v < 0 || digits >= 32) return std::nullopt;
    halves[digits / 16] = (halves[digits / 16] << 4) | static_cast<uint64_t>(v);
    ++digits;
  }
  if (digits != 32) return std::nullopt;
  return fb::Id128(halves[0], halves[1]);
}

bool IsZero(const fb::Id128& id) { return id.hi() == 0 && id.lo() == 0; }

std::string HashToHex(const fb::Hash256& hash) {
  std::string out;
  out.reserve(64);
  for (uint8_t byte : *hash.bytes()) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

std::optional<fb::Hash256> HashFromHex(std::string_view text) {
  if (text.size() != 64) return std::nullopt;
  fb::Hash256 hash;
  auto* bytes = hash.mutable_bytes();
  for (size_t i = 0; i < 32; ++i) {
    const int hi = HexValue(text[2 * i]), lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes->Mutate(i, static_cast<uint8_t>(hi * 16 + lo));
  }
  return hash;
}

}  // namespace noodle
