// The snapshot codec's reading side: MessagePack to JSON, then to values,
// driven by one field list per type (Fields(io, value), found by ADL) that
// the writing side (snapshot_pack.h) walks too, so the two directions cannot
// drift apart. Reading is tolerant by construction: a key
// that is missing (or null) leaves the field at its default, a key nobody
// asks for is ignored; a value of the wrong type is an error naming its path.
// Nothing here throws on bad input (only bad_alloc could). Internal to
// noodle_projections.
#pragma once

#include <concepts>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "noodle/envelope.h"
#include "noodle/projections/component.h"

namespace noodle::proj::snapshot {

using nlohmann::json;

// The first reason a value did not decode, with where: "upgrades[0].phase: ...".
class Errors {
 public:
  bool failed() const { return !first_.empty(); }
  const std::string& first() const { return first_; }
  void Fail(const std::string& what) {
    if (failed()) return;
    first_ = path_.empty() ? what : path_ + ": " + what;
  }
  // Scoped path segments.
  size_t Push(std::string_view segment) {
    const size_t mark = path_.size();
    if (!path_.empty() && !segment.starts_with('[')) path_ += '.';
    path_ += segment;
    return mark;
  }
  void Pop(size_t mark) { path_.resize(mark); }

 private:
  std::string path_;
  std::string first_;
};

// Enums are stored by name. Specialize with Name(E) (nullptr or "" when the
// value has none) and kLast, the highest value; values run from 0 to kLast.
template <typename E>
struct EnumNames;

// Fields(io, value) overloads are constrained to their type, const or not.
template <typename C, typename T>
concept Is = std::same_as<std::remove_const_t<C>, T>;

template <typename T>
concept NamedEnum = std::is_enum_v<T> && requires(T v) { EnumNames<T>::Name(v); };

class Reader;

template <typename T>
concept Record = requires(Reader& r, T& m) { Fields(r, m); };

// ---- reading ---------------------------------------------------------------

inline const char* TypeName(const json& j) { return j.type_name(); }

inline bool Read(const json& j, std::string& v, Errors& e) {
  if (!j.is_string()) return e.Fail(std::string("expected a string, found ") + TypeName(j)), false;
  v = j.get_ref<const std::string&>();
  return true;
}
inline bool Read(const json& j, bool& v, Errors& e) {
  if (!j.is_boolean()) return e.Fail(std::string("expected a boolean, found ") + TypeName(j)), false;
  v = j.get<bool>();
  return true;
}
template <std::integral T>
  requires(!std::same_as<T, bool>)
bool Read(const json& j, T& v, Errors& e) {
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return v = static_cast<T>(u), true;
  } else if (j.is_number_integer()) {
    const int64_t i = j.get<int64_t>();
    if (std::in_range<T>(i)) return v = static_cast<T>(i), true;
  } else {
    return e.Fail(std::string("expected an integer, found ") + TypeName(j)), false;
  }
  return e.Fail("integer " + j.dump() + " is out of range"), false;
}
inline bool Read(const json& j, Id& v, Errors& e) {
  std::string hex;
  if (!Read(j, hex, e)) return false;
  auto parsed = IdFromHex(hex);
  if (!parsed) return e.Fail("expected 32 hex digits, found \"" + hex + "\""), false;
  v = Id::From(&*parsed);
  return true;
}
// By name; format 1 stored the number, still accepted. A name or number this
// build does not know is an error: taking a default would change meaning.
template <NamedEnum E>
bool Read(const json& j, E& v, Errors& e) {
  using U = std::underlying_type_t<E>;
  constexpr U last = static_cast<U>(EnumNames<E>::kLast);
  if (j.is_string()) {
    const auto& name = j.get_ref<const std::string&>();
    for (U u = 0; u <= last; ++u) {
      const char* n = EnumNames<E>::Name(static_cast<E>(u));
      if (n != nullptr && name == n) return v = static_cast<E>(u), true;
    }
    return e.Fail("unknown value \"" + name + "\""), false;
  }
  U u = 0;
  if (!j.is_number_integer() || !Read(j, u, e) || u > last) {
    return e.Fail("expected a value name, found " + j.dump()), false;
  }
  v = static_cast<E>(u);
  return true;
}
template <typename T>
bool Read(const json& j, std::vector<T>& v, Errors& e);
template <typename T>
bool Read(const json& j, std::deque<T>& v, Errors& e);
template <typename T>
bool Read(const json& j, std::set<T>& v, Errors& e);
template <typename T>
bool Read(const json& j, std::map<std::string, T>& v, Errors& e);
template <typename T>
bool Read(const json& j, std::map<Id, T>& v, Errors& e);
template <std::integral K, typename T>
bool Read(const json& j, std::map<K, T>& v, Errors& e);
template <Record T>
bool Read(const json& j, T& v, Errors& e);

// Calls add(index, element json) for each element of an array.
template <typename Add>
bool ReadArray(const json& j, Errors& e, Add&& add) {
  if (!j.is_array()) return e.Fail(std::string("expected an array, found ") + TypeName(j)), false;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string seg = "[";
    seg += std::to_string(i);
    seg += ']';
    const size_t mark = e.Push(seg);
    const bool ok = add(j[i]);
    e.Pop(mark);
    if (!ok) return false;
  }
  return true;
}
template <typename T>
bool Read(const json& j, std::vector<T>& v, Errors& e) {
  v.clear();
  return ReadArray(j, e, [&](const json& x) { return Read(x, v.emplace_back(), e); });
}
template <typename T>
bool Read(const json& j, std::deque<T>& v, Errors& e) {
  v.clear();
  return ReadArray(j, e, [&](const json& x) { return Read(x, v.emplace_back(), e); });
}
template <typename T>
bool Read(const json& j, std::set<T>& v, Errors& e) {
  v.clear();
  return ReadArray(j, e, [&](const json& x) {
    T t{};
    if (!Read(x, t, e)) return false;
    v.insert(std::move(t));
    return true;
  });
}
template <typename T>
bool Read(const json& j, std::map<std::string, T>& v, Errors& e) {
  if (!j.is_object()) return e.Fail(std::string("expected a map, found ") + TypeName(j)), false;
  v.clear();
  for (const auto& [k, x] : j.items()) {
    const size_t mark = e.Push(k);
    const bool ok = Read(x, v[k], e);
    e.Pop(mark);
    if (!ok) return false;
  }
  return true;
}
template <typename T>
bool Read(const json& j, std::map<Id, T>& v, Errors& e) {
  if (!j.is_array()) return e.Fail(std::string("expected an array of [id, value] pairs, found ") + TypeName(j)), false;
  v.clear();
  for (size_t i = 0; i < j.size(); ++i) {
    const json& pair = j[i];
    Id key;
    std::string seg = "[";
    seg += std::to_string(i);
    seg += ']';
    size_t mark = e.Push(seg);
    const bool key_ok = pair.is_array() && pair.size() == 2 ? Read(pair[0], key, e)
                                                            : (e.Fail("expected an [id, value] pair"), false);
    e.Pop(mark);
    if (!key_ok) return false;
    mark = e.Push("[" + key.hex() + "]");  // where the value is, by its key
    T t{};
    bool ok = Read(pair[1], t, e);
    // Values that carry their id: missing, it is the key's; different, the
    // map is inconsistent.
    if constexpr (requires { t.id; }) {
      if (ok && t.id.zero()) t.id = key;
      if (ok && t.id != key) ok = (e.Fail("holds id " + t.id.hex()), false);
    }
    e.Pop(mark);
    if (!ok) return false;
    v.emplace(key, std::move(t));
  }
  return true;
}

template <std::integral K, typename T>
bool Read(const json& j, std::map<K, T>& v, Errors& e) {
  v.clear();
  return ReadArray(j, e, [&](const json& pair) {
    K key{};
    T t{};
    if (!pair.is_array() || pair.size() != 2) return e.Fail("expected a [key, value] pair"), false;
    if (!Read(pair[0], key, e) || !Read(pair[1], t, e)) return false;
    if (!v.emplace(key, std::move(t)).second) return e.Fail("key " + pair[0].dump() + " twice"), false;
    return true;
  });
}

class Reader {
 public:
  Reader(const json* in, Errors* e) : in_(in), e_(e) {}
  template <typename T>
  void operator()(const char* key, T& v) {
    if (e_->failed()) return;
    auto it = in_->find(key);
    if (it == in_->end() || it->is_null()) return;  // missing: the default
    const size_t mark = e_->Push(key);
    Read(*it, v, *e_);
    e_->Pop(mark);
  }

 private:
  const json* in_;
  Errors* e_;
};

template <Record T>
bool Read(const json& j, T& v, Errors& e) {
  if (!j.is_object()) return e.Fail(std::string("expected a map, found ") + TypeName(j)), false;
  Reader r(&j, &e);
  Fields(r, v);
  return !e.failed();
}

// MessagePack to JSON without exceptions and with bounded nesting (the
// parser recurses per level; a crafted blob must not exhaust the stack):
// nlohmann's own DOM builder behind a depth check.
class BoundedSax {
 public:
  static constexpr int kMaxDepth = 64;  // snapshots nest about 10 deep
  explicit BoundedSax(json* out) : dom_(*out, /*allow_exceptions=*/false) {}
  const std::string& why() const { return why_; }

  bool null() { return dom_.null(); }
  bool boolean(bool v) { return dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) { return dom_.number_unsigned(v); }
  bool number_float(json::number_float_t v, const json::string_t& s) { return dom_.number_float(v, s); }
  bool string(json::string_t& v) { return dom_.string(v); }
  bool binary(json::binary_t& v) { return dom_.binary(v); }
  bool start_object(std::size_t n) { return Deeper() && dom_.start_object(n); }
  bool key(json::string_t& k) { return dom_.key(k); }
  bool end_object() { return --depth_, dom_.end_object(); }
  bool start_array(std::size_t n) { return Deeper() && dom_.start_array(n); }
  bool end_array() { return --depth_, dom_.end_array(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    if (why_.empty()) why_ = ex.what();
    return false;
  }

 private:
  bool Deeper() {
    if (++depth_ <= kMaxDepth) return true;
    why_ = "nested deeper than ";
    why_ += std::to_string(kMaxDepth);
    why_ += " levels";
    return false;
  }
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  int depth_ = 0;
  std::string why_;
};

// False with *why when the bytes are not exactly one MessagePack value.
inline bool ParseMsgpack(std::string_view blob, json* out, std::string* why) {
  json parsed;
  BoundedSax sax(&parsed);
  if (!json::sax_parse(blob.begin(), blob.end(), &sax, json::input_format_t::msgpack, /*strict=*/true)) {
    *why = sax.why().empty() ? "malformed" : sax.why();
    return false;
  }
  *out = std::move(parsed);
  return true;
}

}  // namespace noodle::proj::snapshot
