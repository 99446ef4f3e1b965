// Stored or received event envelopes: the Verifier, then every projection's
// fold (registry, status, statistics) on a seeded state.
#include <cstdint>
#include <string>

#include "noodle/envelope.h"
#include "seed_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);  // aligned copy
  const noodle::fb::EventEnvelope* e = noodle::VerifyEnvelope(bytes);
  if (e == nullptr) return 0;
  noodle::fuzz::SeedState s = noodle::fuzz::Seed();
  noodle::engine::Evolve(s.state, *e);
  noodle::proj::Evolve(s.statistics, *e);
  return 0;
}
