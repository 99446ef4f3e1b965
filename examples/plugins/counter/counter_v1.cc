// counter 1.0.0 (and, with COUNTER_BROKEN_HEALTH, the broken 1.2.0):
// every call adds one and answers "<version> <count>".
#include <atomic>
#include <string>

#include "counter_state.h"

#ifndef COUNTER_VERSION
#define COUNTER_VERSION "1.0.0"
#endif

namespace {

struct Instance {
  std::atomic<uint64_t> count{0};
};

void* Create(const uint8_t* state, size_t size) {
  uint64_t count = 0;
  if (!counter::ParseCount(state, size, &count)) return nullptr;
  auto* i = new Instance;
  i->count = count;
  return i;
}

int Call(void* instance, const uint8_t*, size_t, noodle_buffer* response) {
  const uint64_t n = ++static_cast<Instance*>(instance)->count;
  counter::Fill(response, std::string(COUNTER_VERSION " ") + std::to_string(n));
  return 0;
}

int Export(void* instance, noodle_buffer* state) {
  counter::Fill(state, "count=" + std::to_string(static_cast<Instance*>(instance)->count.load()));
  return 0;
}

int Health(void*) {
#ifdef COUNTER_BROKEN_HEALTH
  return 1;  // this release ships broken: it must never take traffic for long
#else
  return 0;
#endif
}

void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

const noodle_plugin_v1 kPlugin = {NOODLE_PLUGIN_ABI_VERSION, "counter", COUNTER_VERSION, Create, Call, Export, Health,
                                  Destroy, counter::FreeBuffer};

}  // namespace

extern "C" const noodle_plugin_v1* noodle_plugin_entry(void) { return &kPlugin; }
