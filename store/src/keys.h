// Key layout of the log's column families. Big-endian integers so that
// RocksDB's bytewise order is numeric order.
//   events:      seq(8)                          -> EventEnvelope bytes
//   streams:     stream '\0' first_version(8)    -> BatchRef: first_seq(8) count(4)
//   event_ids:   first event id: hi(8) lo(8)     -> BatchRef: first_seq(8) count(4)
//   snapshots:   projection '\0' seq(8)          -> blob
//   meta:        "checkpoint/" projection        -> seq(8)
// The indexes hold one entry per appended batch, not per event: a batch's
// events have consecutive seqs and stream versions, so one entry locates
// them all, and an append costs one index write per batch.
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

// Where a batch lives: its first seq and how many events it holds.
struct BatchRef {
  uint64_t first_seq = 0;
  uint32_t count = 0;
};

inline std::string EncodeBatchRef(uint64_t first_seq, uint32_t count) {
  std::string v;
  v.reserve(12);
  PutBE64(first_seq, &v);
  for (int shift = 24; shift >= 0; shift -= 8) v.push_back(static_cast<char>(count >> shift));
  return v;
}

// False when the value is not 12 bytes (a damaged index entry).
inline bool DecodeBatchRef(std::string_view v, BatchRef* out) {
  if (v.size() != 12) return false;
  out->first_seq = GetBE64(v);
  out->count = 0;
  for (size_t i = 8; i < 12; ++i) out->count = (out->count << 8) | static_cast<uint8_t>(v[i]);
  return true;
}

// FlatBuffers must be read from aligned memory; values inside RocksDB blocks
// sit at any address. Returns value itself when it is 8-byte aligned, else a
// copy in *scratch (heap memory, which malloc aligns).
inline std::string_view AlignedView(std::string_view value, std::string* scratch) {
  if (reinterpret_cast<uintptr_t>(value.data()) % 8 == 0) return value;
  scratch->assign(value);
  return *scratch;
}

inline std::string Checkpoint(std::string_view projection) {
  return "checkpoint/" + std::string(projection);
}

}  // namespace noodle::store::keys
