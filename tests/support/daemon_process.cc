#include "support/daemon_process.h"

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
  if (!data_dir.empty()) args.insert(args.end(), {"--data", data_dir});
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  BOOST_REQUIRE(pipe(out) == 0);
  DaemonProcess d;
  d.pid = fork();
  BOOST_REQUIRE(d.pid >= 0);
  if (d.pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    execv(upgraded_path.c_str(), argv.data());
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char line[512] = {0};
  const bool got = fgets(line, sizeof line, f) != nullptr;
  fclose(f);
  BOOST_REQUIRE_MESSAGE(got, "upgraded printed no ready line");
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
