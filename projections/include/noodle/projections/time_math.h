// Arithmetic on event times (ns). Times come from the log, where a damaged
// or hostile value must not overflow: results saturate instead.
#pragma once

#include <cstdint>

namespace noodle::proj {

// to - from, never negative: 0 when to is earlier, INT64_MAX when the
// difference does not fit.
inline int64_t ElapsedNs(int64_t from, int64_t to) {
  int64_t d = 0;
  if (__builtin_sub_overflow(to, from, &d)) return to < from ? 0 : INT64_MAX;
  return d < 0 ? 0 : d;
}

// a + b for b >= 0, INT64_MAX when the sum does not fit.
inline int64_t AddNs(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? INT64_MAX : sum;
}

}  // namespace noodle::proj
