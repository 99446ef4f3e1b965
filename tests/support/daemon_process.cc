#include "support/daemon_process.h"
#include "support/test_support.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <sstream>

namespace noodle::test {

DaemonProcess DaemonProcess::Start(const std::string& upgraded_path, const std::string& data_dir,
                                   const std::vector<std::string>& extra) {
  std::vector<std::string> args{"upgraded", "--commands", "tcp://127.0.0.1:0", "--events", "tcp://127.0.0.1:0",
                                "--replay", "tcp://127.0.0.1:0", "--log-level", "warn", "--snapshot-every", "50"};
  if (!data_dir.empty()) args.insert(args.end(), {"--data-dir", data_dir});
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.begin(), upgraded_path);
  args.erase(args.begin() + 1);  // argv[0] is the path itself
  DaemonProcess d;
  std::string line;
  d.pid = SpawnUntilFirstLine(args, &line);
  BOOST_REQUIRE_MESSAGE(d.pid > 0 && !line.empty(), "upgraded printed no ready line");
  std::istringstream in(line);
  std::string word;
  in >> word >> d.commands >> d.events >> d.replay;
  BOOST_REQUIRE(word == "ready");
  return d;
}

int DaemonProcess::Stop(int sig) {
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  pid = -1;
  return status;
}

DaemonProcess::~DaemonProcess() {
  if (pid > 0) Stop(SIGKILL);
}

}  // namespace noodle::test
