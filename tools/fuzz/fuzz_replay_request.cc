// Replay requests and replies as they cross the bus: the Verifier on a
// request, and a reply header read the way ReplayReader reads it.
#include <cstdint>
#include <string>

#include "noodle/fb/bus_generated.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);  // aligned copy
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  flatbuffers::Verifier request(p, bytes.size());
  if (noodle::fb::VerifyReplayRequestBuffer(request)) {
    const auto* r = noodle::fb::GetReplayRequest(p);
    volatile uint64_t span = r->until_seq() >= r->from_seq() ? r->until_seq() - r->from_seq() : 0;
    (void)span;
  }
  flatbuffers::Verifier header(p, bytes.size());
  if (header.VerifyBuffer<noodle::fb::ReplayHeader>(nullptr)) {  // as bus/src/client.cc reads it
    const auto* h = flatbuffers::GetRoot<noodle::fb::ReplayHeader>(p);
    volatile size_t read = h->error() != nullptr ? h->error()->size() : 0;  // reached only through the Verifier
    (void)read;
  }
  return 0;
}
