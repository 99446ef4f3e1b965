// State blobs of the counter plugin, shared by its versions.
//   layout 1 (1.x):  "count=<n>"
//   layout 2 (2.x):  "layout=2 count=<n> calls=<m>"
// Every version reads both (find "count="), so upgrades and rollbacks both
// carry the count; anything else is refused (create returns NULL).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "noodle/plugin/plugin_abi.h"

namespace counter {

inline bool ParseField(const uint8_t* blob, size_t size, const char* field, uint64_t* out) {
  const std::string s(reinterpret_cast<const char*>(blob), size);
  const size_t at = s.find(field);
  if (at == std::string::npos) return false;
  const char* begin = s.c_str() + at + std::strlen(field);
  char* end = nullptr;
  *out = std::strtoull(begin, &end, 10);
  return end != begin;
}

// Parses a blob; an empty blob is a fresh start (0).
inline bool ParseCount(const uint8_t* blob, size_t size, uint64_t* count) {
  *count = 0;
  return size == 0 || ParseField(blob, size, "count=", count);
}

inline void Fill(noodle_buffer* b, const std::string& s) {
  b->data = static_cast<uint8_t*>(std::malloc(s.size() == 0 ? 1 : s.size()));
  std::memcpy(b->data, s.data(), s.size());
  b->size = s.size();
}

inline void FreeBuffer(noodle_buffer* b) {
  std::free(b->data);
  b->data = nullptr;
  b->size = 0;
}

}  // namespace counter
