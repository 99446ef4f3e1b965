// A shared library that proves it was loaded: when dlopen runs its
// constructor, it creates the file named by NOODLE_TEST_MARKER. The
// confinement tests assert that file is absent after a refusal (and present
// after a load they allow, so the marker itself is shown to work).
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void WriteMarker() {
  const char* path = getenv("NOODLE_TEST_MARKER");
  if (path == nullptr || *path == '\0') return;
  const int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
}
