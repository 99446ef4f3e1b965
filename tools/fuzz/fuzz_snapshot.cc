// Projection snapshots read back from disk: decoding never crashes, and
// what decodes re-encodes to a snapshot that decodes to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "noodle/projections/codec.h"
#include "noodle/projections/registry.h"
#include "noodle/projections/statistics.h"
#include "noodle/projections/status.h"

namespace {

template <typename T>
void RoundTrip(std::string_view blob) {
  T first;
  if (!noodle::proj::Decode(blob, &first).ok()) return;
  const std::string encoded = noodle::proj::Encode(first);
  T second;
  if (!noodle::proj::Decode(encoded, &second).ok()) std::abort();
  if (noodle::proj::Encode(second) != encoded) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view blob(reinterpret_cast<const char*>(data), size);
  RoundTrip<noodle::proj::Registry>(blob);
  RoundTrip<noodle::proj::Status>(blob);
  RoundTrip<noodle::proj::Statistics>(blob);
  return 0;
}
