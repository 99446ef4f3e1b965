/* A plugin built against noodle/plugin/plugin_abi.h alone, in C. Its state
 * is the number of calls it served, carried from version to version.
 * create() appends "<version> create" to the file named by $PROBE_MARKER,
 * so a test sees which releases the daemon (and its trial process) ran. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noodle/plugin/plugin_abi.h"

typedef struct probe {
  uint64_t calls;
} probe;

static void* probe_create(const uint8_t* state, size_t size) {
  if (size != 0 && size != sizeof(uint64_t)) return NULL; /* a layout this version does not know */
  probe* p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  if (size != 0) memcpy(&p->calls, state, size);
  const char* marker = getenv("PROBE_MARKER");
  FILE* f = marker != NULL ? fopen(marker, "a") : NULL;
  if (f != NULL) {
    fprintf(f, "%s create\n", PROBE_VERSION);
    fclose(f);
  }
  return p;
}

static int probe_call(void* instance, const uint8_t* request, size_t request_size, noodle_buffer* response) {
  (void)request;
  (void)request_size;
  __atomic_add_fetch(&((probe*)instance)->calls, 1, __ATOMIC_RELAXED);
  response->data = NULL;
  response->size = 0;
  return 0;
}

static int probe_export_state(void* instance, noodle_buffer* state) {
  state->data = malloc(sizeof(uint64_t));
  if (state->data == NULL) return 1;
  memcpy(state->data, &((probe*)instance)->calls, sizeof(uint64_t));
  state->size = sizeof(uint64_t);
  return 0;
}

static int probe_health(void* instance) {
  (void)instance;
#ifdef PROBE_UNHEALTHY
  return 1;
#else
  return 0;
#endif
}

static void probe_destroy(void* instance) { free(instance); }

static void probe_free_buffer(noodle_buffer* buffer) {
  free(buffer->data);
  buffer->data = NULL;
  buffer->size = 0;
}

static const noodle_plugin_v1 kProbe = {
    NOODLE_PLUGIN_ABI_VERSION, "probe",         PROBE_VERSION, probe_create,     probe_call,
    probe_export_state,        probe_health,    probe_destroy, probe_free_buffer};

const noodle_plugin_v1* noodle_plugin_entry(void) { return &kProbe; }
