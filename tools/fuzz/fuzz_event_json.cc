// Events given as JSON to `upgradectl log append`: refused with a message,
// or turned into an envelope that passes the Verifier.
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "event_json.h"
#include "noodle/envelope.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const noodle::tools::EventJson codec;
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto draft = codec.FromJson(j, 1'700'000'000'000'000'000, "fuzz");
  if (!draft.ok()) {
    if (draft.status().message().empty()) std::abort();
    return 0;
  }
  if (noodle::VerifyEnvelope(draft.value().bytes) == nullptr) std::abort();
  return 0;
}
