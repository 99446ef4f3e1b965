// upgraded as a child process on ports the OS picks; its endpoints are read
// from the "ready" line it prints. Killed (SIGKILL) if still running when
// the object goes away.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace noodle::test {

struct DaemonProcess {
  pid_t pid = -1;
  std::string commands, events, replay;

  // Starts upgraded on data_dir (none given: the flag is left out) with
  // extra flags, and waits for its ready line.
  static DaemonProcess Start(const std::string& upgraded_path, const std::string& data_dir,
                             const std::vector<std::string>& extra = {});
  // Sends sig and reaps the process; returns its wait status.
  int Stop(int sig);
  DaemonProcess() = default;
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  DaemonProcess(DaemonProcess&& o) noexcept
      : pid(o.pid), commands(std::move(o.commands)), events(std::move(o.events)), replay(std::move(o.replay)) {
    o.pid = -1;
  }
  ~DaemonProcess();
};

}  // namespace noodle::test
