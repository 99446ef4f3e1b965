#include "service_notify.h"

#include <systemd/sd-daemon.h>

#include <cstring>
#include <spdlog/spdlog.h>

namespace noodle::daemon {
namespace {

// A notification that cannot be sent is logged, never fatal: the daemon
// serves either way, and systemd then reports the start as timed out.
void Notify(const std::string& message) {
  const int rc = sd_notify(0, message.c_str());
  if (rc < 0) spdlog::warn("upgraded: cannot notify the service manager: {}", std::strerror(-rc));
}

}  // namespace

void NotifyReady(const std::string& status) { Notify("READY=1\nSTATUS=" + status); }

void NotifyStopping() { Notify("STOPPING=1\nSTATUS=stopping"); }

}  // namespace noodle::daemon
