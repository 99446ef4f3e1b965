// The log's hash chain: hash = SHA-256(prev_hash || envelope bytes with the
// hash field read as zeros). OpenSSL's EVP uses the CPU's SHA instructions.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "noodle/fb/events_generated.h"

namespace noodle::store {

using Digest = std::array<uint8_t, 32>;

// envelope_bytes holds a verified EventEnvelope; its hash field is skipped
// (hashed as zeros) wherever it is in the buffer.
Digest ChainHash(const Digest& prev, std::string_view envelope_bytes,
                 const fb::EventEnvelope& envelope);

inline Digest ToDigest(const fb::Hash256* h) {
  Digest d{};
  if (h != nullptr) std::copy(h->bytes()->begin(), h->bytes()->end(), d.begin());
  return d;
}

}  // namespace noodle::store
