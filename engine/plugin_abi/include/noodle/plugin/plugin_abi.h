/* The NoodleCore plugin ABI, version 1. A plugin is a shared library,
 * <plugin dir>/<name>/<version>/lib<name>.so, that exports one C function:
 *
 *     const noodle_plugin_v1* noodle_plugin_entry(void);
 *
 * Build a plugin against this header alone (C or C++, no other dependency).
 *
 * Contract:
 * - create() builds an instance from a state blob (empty for a fresh start,
 *   otherwise what export_state() of this or another version produced: a
 *   version must accept the layouts of the versions it upgrades from and,
 *   to allow rollback, those it may be rolled back from). NULL = refused.
 * - call() may run concurrently on one instance from many threads.
 * - export_state() and destroy() run only when no call is in flight.
 * - Buffers a plugin returns are released with its own free_buffer().
 * - health() returns 0 when the instance is fit to take traffic.
 * Evolution: fields are only appended; abi_version says which exist.
 */
#ifndef NOODLE_PLUGIN_ABI_H_
#define NOODLE_PLUGIN_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NOODLE_PLUGIN_ABI_VERSION 1u
#define NOODLE_PLUGIN_ENTRY "noodle_plugin_entry"

typedef struct noodle_buffer {
  uint8_t* data;
  size_t size;
} noodle_buffer;

typedef struct noodle_plugin_v1 {
  uint32_t abi_version; /* NOODLE_PLUGIN_ABI_VERSION */
  const char* name;
  const char* version; /* SemVer 2.0.0 */
  void* (*create)(const uint8_t* state, size_t state_size);
  /* 0: *response filled (may be empty); otherwise the call failed. */
  int (*call)(void* instance, const uint8_t* request, size_t request_size, noodle_buffer* response);
  /* 0: *state filled. */
  int (*export_state)(void* instance, noodle_buffer* state);
  int (*health)(void* instance);
  void (*destroy)(void* instance);
  void (*free_buffer)(noodle_buffer* buffer);
} noodle_plugin_v1;

typedef const noodle_plugin_v1* (*noodle_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* NOODLE_PLUGIN_ABI_H_ */
