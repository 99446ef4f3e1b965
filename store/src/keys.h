// Key layout of the log's column families. Big-endian integers so that
// RocksDB's bytewise order is numeric order.
//   events:      seq(8)                        -> EventEnvelope bytes
//   streams:     stream '\0' version(8)        -> seq(8)
//   event_ids:   id.hi(8) id.lo(8)             -> seq(8)
//   snapshots:   projection '\0' seq(8)        -> blob
//   meta:        "checkpoint/" projection      -> seq(8)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "noodle/fb/common_generated.h"

namespace noodle::store::keys {

inline void PutBE64(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline uint64_t GetBE64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

inline std::string Seq(uint64_t seq) {
  std::string k;
  k.reserve(8);
  PutBE64(seq, &k);
  return k;
}

inline std::string NamedSeq(std::string_view name, uint64_t seq) {
  std::string k;
  k.reserve(name.size() + 9);
  k.append(name);
  k.push_back('\0');
  PutBE64(seq, &k);
  return k;
}

inline std::string EventId(const fb::Id128& id) {
  std::string k;
  k.reserve(16);
  PutBE64(id.hi(), &k);
  PutBE64(id.lo(), &k);
  return k;
}

inline std::string Checkpoint(std::string_view projection) {
  return "checkpoint/" + std::string(projection);
}

}  // namespace noodle::store::keys
