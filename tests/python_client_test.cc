// The Python example client (Debian's python3-zmq, python3-flatbuffers and
// stock `flatc --python` code) against a real upgraded.
#define BOOST_TEST_MODULE python_client
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/daemon_process.h"
#include "support/test_support.h"

using namespace noodle;

BOOST_AUTO_TEST_CASE(python_client_subscribes_and_requests_an_upgrade) {
  test::TempDir dir;
  auto d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"));
  setenv("PYTHONPATH", PYTHON_GEN_DIR, 1);
  std::string out, err;
  const std::string spec = dir.sub("db.json");
  std::ofstream(spec) << R"({"name":"db","version":"1.4.0","hooks":{"swap":"true"}})";
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "component", "register", "-f", spec, "--commands", d.commands}, "",
                                 &out, &err) == 0);

  // The subscriber (topic filter: upgrade streams only) runs in the background.
  const std::string sub_out = dir.sub("sub.out");
  const pid_t sub = fork();
  BOOST_REQUIRE(sub >= 0);
  if (sub == 0) {
    freopen(sub_out.c_str(), "w", stdout);
    execl(PYTHON_PATH, "python3", PYTHON_CLIENT, "subscribe", "--events", d.events.c_str(), "--topic", "upgrade/",
          "--count", "7", "--timeout-ms", "30000", static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until it has subscribed (it prints "subscribed"), bounded.
  for (int i = 0; i < 300; ++i) {
    std::ifstream in(sub_out);
    std::stringstream s;
    s << in.rdbuf();
    if (s.str().find("subscribed") != std::string::npos) break;
    usleep(20'000);
  }
  usleep(300'000);  // a raw SUB has no replay: let the subscription reach the publisher first

  const int rc = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "request-upgrade", "--commands", d.commands, "db", "1.5.0"},
                                  "", &out, &err);
  BOOST_TEST_MESSAGE("request-upgrade: " << out << err);
  BOOST_TEST(rc == 0);
  BOOST_TEST(out.find("accepted ids=") != std::string::npos);
  int status = 0;
  waitpid(sub, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  std::ifstream in(sub_out);
  std::stringstream events;
  events << in.rdbuf();
  BOOST_TEST_MESSAGE(events.str());
  BOOST_TEST(events.str().find("UpgradeRequested") != std::string::npos);
  BOOST_TEST(events.str().find("#UpgradeCompleted): db 1.4.0 -> 1.5.0") != std::string::npos);
  BOOST_TEST(events.str().find("ComponentRegistered") == std::string::npos);  // filtered by topic

  // A refused request prints the reasons and exits non-zero
  const int bad = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "request-upgrade", "--commands", d.commands, "db", "9.0.0"},
                                   "", &out, &err);
  BOOST_TEST(bad == 1);
  BOOST_TEST(out.find("breaking_change") != std::string::npos);
}
