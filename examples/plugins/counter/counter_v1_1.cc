// counter 1.1.0: same state layout as 1.0.0; new behaviour: a request
// "add:<k>" adds k (any other request adds one).
#include <atomic>
#include <cstdlib>
#include <string>

#include "counter_state.h"

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

int Call(void* instance, const uint8_t* request, size_t size, noodle_buffer* response) {
  uint64_t k = 1;
  const std::string req(reinterpret_cast<const char*>(request), size);
  if (req.rfind("add:", 0) == 0) k = std::strtoull(req.c_str() + 4, nullptr, 10);
  const uint64_t n = static_cast<Instance*>(instance)->count += k;
  counter::Fill(response, "1.1.0 " + std::to_string(n));
  return 0;
}

int Export(void* instance, noodle_buffer* state) {
  counter::Fill(state, "count=" + std::to_string(static_cast<Instance*>(instance)->count.load()));
  return 0;
}

int Health(void*) { return 0; }
void Destroy(void* instance) { delete static_cast<Instance*>(instance); }

const noodle_plugin_v1 kPlugin = {NOODLE_PLUGIN_ABI_VERSION, "counter", "1.1.0", Create, Call, Export, Health, Destroy,
                                  counter::FreeBuffer};

}  // namespace

extern "C" const noodle_plugin_v1* noodle_plugin_entry(void) { return &kPlugin; }
