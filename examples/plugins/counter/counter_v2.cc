// counter 2.0.0: a new state layout ("layout=2 count=<n> calls=<m>") that
// also counts calls; migrates from layout 1 (calls start at 0). Its blob
// still carries "count=", so a rollback to 1.x keeps the count.
#include <atomic>
#include <string>

#include "counter_state.h"

namespace {

struct Instance {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> calls{0};
};

void* Create(const uint8_t* state, size_t size) {
  uint64_t count = 0, calls = 0;
  if (!counter::ParseCount(state, size, &count)) return nullptr;
  counter::ParseField(state, size, "calls=", &calls);  // absent in layout 1
  auto* i = new Instance;
  i->count = count;
  i->calls = calls;
  return i;
}

int Call(void* instance, const uint8_t*, size_t, noodle_buffer* response) {
  auto* i = static_cast<Instance*>(instance);
  ++i->calls;
  const uint64_t n = ++i->count;
  counter::Fill(response, "2.0.0 " + std::to_string(n));
  return 0;
}

int Export(void* instance, noodle_buffer* state) {
  auto* i = static_cast<Instance*>(instance);
  counter::Fill(state, "layout=2 count=" + std::to_string(i->count.load()) + " calls=" + std::to_string(i->calls.load()));
  return 0;
}

int Health(void*) { return 0; }
void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

const noodle_plugin_v1 kPlugin = {NOODLE_PLUGIN_ABI_VERSION, "counter", "2.0.0", Create, Call, Export, Health, Destroy,
                                  counter::FreeBuffer};

}  // namespace

extern "C" const noodle_plugin_v1* noodle_plugin_entry(void) { return &kPlugin; }
