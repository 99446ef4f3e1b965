// The snapshot codec's writing side: values straight to MessagePack bytes,
// driven by the same field lists (Fields(io, value)) the reader uses. No
// document is built on the way: a snapshot of a large state costs one pass
// and one output buffer, not a tree of nodes several times its size.
// The bytes are what nlohmann's to_msgpack would write for the same JSON
// (smallest encoding of each integer, string and container header), so the
// reader in snapshot_json.h parses them unchanged. Internal to
// noodle_projections.
#pragma once

#include <concepts>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "noodle/projections/component.h"

namespace noodle::proj::snapshot {

// MessagePack's primitives, appended to a string.
class Packer {
 public:
  explicit Packer(std::string* out) : out_(out) {}

  void Nil() { Byte(0xc0); }
  void Bool(bool v) { Byte(v ? 0xc3 : 0xc2); }
  void Unsigned(uint64_t v) {
    if (v < 0x80) return Byte(static_cast<uint8_t>(v));
    if (v <= 0xff) return Byte(0xcc), Big(v, 1);
    if (v <= 0xffff) return Byte(0xcd), Big(v, 2);
    if (v <= 0xffffffffu) return Byte(0xce), Big(v, 4);
    Byte(0xcf), Big(v, 8);
  }
  void Signed(int64_t v) {
    if (v >= 0) return Unsigned(static_cast<uint64_t>(v));
    if (v >= -32) return Byte(static_cast<uint8_t>(v));
    if (v >= INT8_MIN) return Byte(0xd0), Big(static_cast<uint64_t>(v), 1);
    if (v >= INT16_MIN) return Byte(0xd1), Big(static_cast<uint64_t>(v), 2);
    if (v >= INT32_MIN) return Byte(0xd2), Big(static_cast<uint64_t>(v), 4);
    Byte(0xd3), Big(static_cast<uint64_t>(v), 8);
  }
  void String(std::string_view s) {
    Header(s.size(), 0xa0, 32, 0xd9, 0xda, 0xdb);
    out_->append(s);
  }
  void Array(size_t n) { Header(n, 0x90, 16, 0, 0xdc, 0xdd); }
  void Map(size_t n) { Header(n, 0x80, 16, 0, 0xde, 0xdf); }

 private:
  void Byte(uint8_t b) { out_->push_back(static_cast<char>(b)); }
  // The low `bytes` bytes of v, most significant first.
  void Big(uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  // fix form below `fix_limit`, then the 8- (if any), 16- and 32-bit forms.
  void Header(size_t n, uint8_t fix, size_t fix_limit, uint8_t b8, uint8_t b16, uint8_t b32) {
    if (n < fix_limit) return Byte(static_cast<uint8_t>(fix | n));
    if (b8 != 0 && n <= 0xff) return Byte(b8), Big(n, 1);
    if (n <= 0xffff) return Byte(b16), Big(n, 2);
    Byte(b32), Big(n, 4);
  }

  std::string* out_;
};

template <typename E>
struct EnumNames;

class FieldPacker;
class FieldCounter;

template <typename T>
concept Packable = requires(FieldPacker& w, FieldCounter& c, const T& v) {
  Fields(w, v);
  Fields(c, v);
};

inline void Pack(Packer& p, const std::string& v) { p.String(v); }
inline void Pack(Packer& p, bool v) { p.Bool(v); }
template <std::integral T>
  requires(!std::same_as<T, bool>)
void Pack(Packer& p, T v) {
  if constexpr (std::is_signed_v<T>) p.Signed(v);
  else p.Unsigned(v);
}
inline void Pack(Packer& p, const Id& v) { p.String(v.hex()); }
template <typename E>
  requires std::is_enum_v<E> && requires(E v) { EnumNames<E>::Name(v); }
void Pack(Packer& p, E v) {
  const char* name = EnumNames<E>::Name(v);
  if (name == nullptr) return p.Nil();  // nlohmann writes a null string as nil
  p.String(name);
}
template <typename T>
void Pack(Packer& p, const std::vector<T>& v);
template <typename T>
void Pack(Packer& p, const std::deque<T>& v);
template <typename T>
void Pack(Packer& p, const std::set<T>& v);
template <typename T>
void Pack(Packer& p, const std::map<std::string, T>& v);
template <typename K, typename T>
  requires(!std::same_as<K, std::string>)
void Pack(Packer& p, const std::map<K, T>& v);
template <Packable T>
void Pack(Packer& p, const T& v);

template <typename C>
void PackArray(Packer& p, const C& c) {
  p.Array(c.size());
  for (const auto& e : c) Pack(p, e);
}
template <typename T>
void Pack(Packer& p, const std::vector<T>& v) {
  PackArray(p, v);
}
template <typename T>
void Pack(Packer& p, const std::deque<T>& v) {
  PackArray(p, v);
}
template <typename T>
void Pack(Packer& p, const std::set<T>& v) {
  PackArray(p, v);
}
template <typename T>
void Pack(Packer& p, const std::map<std::string, T>& v) {
  p.Map(v.size());
  for (const auto& [k, e] : v) {
    p.String(k);
    Pack(p, e);
  }
}
// Keys that are not strings (ids, integers): [[key, value], ...].
template <typename K, typename T>
  requires(!std::same_as<K, std::string>)
void Pack(Packer& p, const std::map<K, T>& v) {
  p.Array(v.size());
  for (const auto& [k, e] : v) {
    p.Array(2);
    Pack(p, k);
    Pack(p, e);
  }
}

// A map header needs its size first: the field list is walked once to count.
class FieldCounter {
 public:
  template <typename T>
  void operator()(const char*, const T&) {
    ++n_;
  }
  size_t n() const { return n_; }

 private:
  size_t n_ = 0;
};

class FieldPacker {
 public:
  explicit FieldPacker(Packer* p) : p_(p) {}
  template <typename T>
  void operator()(const char* key, const T& v) {
    p_->String(key);
    Pack(*p_, v);
  }

 private:
  Packer* p_;
};

// A record is a map of its fields; `extra` more pairs follow it, written by
// the caller (a snapshot's "projection" and "format").
template <Packable T>
void PackRecord(Packer& p, const T& v, size_t extra) {
  FieldCounter count;
  Fields(count, v);
  p.Map(count.n() + extra);
  FieldPacker w(&p);
  Fields(w, v);
}
template <Packable T>
void Pack(Packer& p, const T& v) {
  PackRecord(p, v, 0);
}

}  // namespace noodle::proj::snapshot
