// Tells the service manager how the daemon is doing (systemd's Type=notify,
// see packaging/upgraded.service.in). Without $NOTIFY_SOCKET (not started by
// systemd), every call does nothing.
#pragma once

#include <string>

namespace noodle::daemon {

// READY=1 with a status line: the bus serves, clients may connect now.
// systemd holds back units ordered After=upgraded.service until then.
void NotifyReady(const std::string& status);

// STOPPING=1: a stop began; running steps get their grace period.
void NotifyStopping();

}  // namespace noodle::daemon
