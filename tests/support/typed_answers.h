// Reading typed query answers (schemas/queries.fbs) in tests. Header only:
// the tests that use it link noodle_protocol already.
#pragma once

#include <boost/test/unit_test.hpp>

#include <string>

#include "noodle/protocol/query_result.h"

namespace noodle::test {

// The answer r carries, as T; fails the test when it carries none, another
// kind, or bytes that do not verify. Points into r: r must outlive it.
template <typename T>
const T& Answer(const engine::Reply& r) {
  BOOST_REQUIRE_MESSAGE(r.accepted, "rejected: " << r.message);
  auto a = engine::AnswerOf<T>(r);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.status().ToString());
  return *a.value();
}
template <typename T>
const T& Answer(const engine::Reply&& r) = delete;  // the answer would point into a temporary

inline std::string Str(const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); }

// How many times `outcome` was counted (0 when it is not listed).
inline uint64_t CountOf(const flatbuffers::Vector<flatbuffers::Offset<fb::OutcomeCount>>* outcomes, fb::Outcome outcome) {
  if (outcomes == nullptr) return 0;
  for (const auto* o : *outcomes) {
    if (o->outcome() == outcome) return o->count();
  }
  return 0;
}

// The number of elements of a list that may be absent.
template <typename V>
size_t SizeOf(const V* v) {
  return v != nullptr ? v->size() : 0;
}

}  // namespace noodle::test
