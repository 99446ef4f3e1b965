// noodle-plugin-trial LIBRARY: tries a plugin version in a process of its
// own before the host loads it: reads a state blob on stdin, then dlopen,
// create(state), health, export_state, destroy. A crash here costs this
// process only. Exit codes (read by plugin::Host): 0 fine, 2 cannot load,
// 3 create refused the state, 4 unhealthy, 5 export_state failed, 64 usage.
// --version prints its version.
#include <dlfcn.h>
#include <unistd.h>

#include <string>

#include "noodle/plugin/plugin_abi.h"
#include "version.h"

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "noodle-plugin-trial")) return 0;
  if (argc != 2) return 64;
  std::string state;
  char buf[65536];
  for (ssize_t n; (n = read(0, buf, sizeof buf)) > 0;) state.append(buf, static_cast<size_t>(n));
  void* dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) return 2;
  auto entry = reinterpret_cast<noodle_plugin_entry_fn>(dlsym(dl, NOODLE_PLUGIN_ENTRY));
  const noodle_plugin_v1* api = entry != nullptr ? entry() : nullptr;
  if (api == nullptr) return 2;
  void* instance = api->create(reinterpret_cast<const uint8_t*>(state.data()), state.size());
  if (instance == nullptr) return 3;
  int rc = 0;
  noodle_buffer out{nullptr, 0};
  if (api->health(instance) != 0) {
    rc = 4;
  } else if (api->export_state(instance, &out) != 0) {
    rc = 5;
  } else {
    api->free_buffer(&out);
  }
  api->destroy(instance);
  return rc;
}
