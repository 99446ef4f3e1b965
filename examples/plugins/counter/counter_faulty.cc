// Faulty counters for the host's failure tests (not examples to follow):
//   COUNTER_CRASH_IN_CREATE   1.3.0: create() dereferences a null pointer
//   COUNTER_GARBAGE_EXPORT    1.4.0: export_state() returns random bytes
#include <atomic>
#include <random>
#include <string>

#include "counter_state.h"

namespace {

struct Instance {
  std::atomic<uint64_t> count{0};
};

void* Create(const uint8_t* state, size_t size) {
#ifdef COUNTER_CRASH_IN_CREATE
  volatile int* null = nullptr;
  *null = 1;  // SIGSEGV
#endif
  uint64_t count = 0;
  if (!counter::ParseCount(state, size, &count)) return nullptr;
  auto* i = new Instance;
  i->count = count;
  return i;
}

int Call(void* instance, const uint8_t*, size_t, noodle_buffer* response) {
  counter::Fill(response, std::string(COUNTER_VERSION " ") + std::to_string(++static_cast<Instance*>(instance)->count));
  return 0;
}

int Export(void* instance, noodle_buffer* state) {
#ifdef COUNTER_GARBAGE_EXPORT
  std::mt19937 rng(static_cast<unsigned>(static_cast<Instance*>(instance)->count));
  std::string junk(64, '\0');
  for (auto& c : junk) c = static_cast<char>('A' + rng() % 26);  // no "count=" in it
  counter::Fill(state, junk);
#else
  counter::Fill(state, "count=" + std::to_string(static_cast<Instance*>(instance)->count.load()));
#endif
  return 0;
}

int Health(void*) { return 0; }
void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

const noodle_plugin_v1 kPlugin = {NOODLE_PLUGIN_ABI_VERSION, "counter", COUNTER_VERSION, Create, Call, Export, Health,
                                  Destroy, counter::FreeBuffer};

}  // namespace

extern "C" const noodle_plugin_v1* noodle_plugin_entry(void) { return &kPlugin; }
