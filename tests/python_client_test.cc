// The Python example client (Debian's python3-zmq, python3-flatbuffers and
// stock `flatc --python` code) against a real upgraded.
#define BOOST_TEST_MODULE python_client
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/daemon_process.h"
#include "support/test_support.h"

using namespace noodle;

namespace {

// Hooks run only from a hook root: one script there that succeeds.
std::string OkHook(const test::TempDir& dir) {
  const std::string ok = dir.sub("hooks/ok.sh");
  std::filesystem::create_directories(dir.sub("hooks"));
  std::ofstream(ok) << "#!/bin/sh\nexit 0\n";
  std::filesystem::permissions(ok, std::filesystem::perms(0755));
  return ok;
}

// Until the subscriber has printed "subscribed" (bounded: 6 s).
void WaitSubscribed(const std::string& out_file) {
  test::WaitFor([&] {
    std::ifstream in(out_file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str().find("subscribed") != std::string::npos;
  }, 6);
}

// Starts `noodle_client.py subscribe` with extra args, stdout to out_file,
// and waits until it has subscribed.
pid_t StartSubscriber(const std::string& out_file, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"python3", PYTHON_CLIENT, "subscribe"};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    freopen(out_file.c_str(), "w", stdout);
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    execv(PYTHON_PATH, c.data());
    _exit(127);
  }
  WaitSubscribed(out_file);
  return pid;
}

// Waits for the subscriber to exit (it must exit 0) and returns what it printed.
std::string FinishSubscriber(pid_t pid, const std::string& out_file) {
  int status = 0;
  waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  std::ifstream in(out_file);
  std::stringstream printed;
  printed << in.rdbuf();
  return printed.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(python_client_subscribes_and_requests_an_upgrade) {
  test::TempDir dir;
  const std::string ok = OkHook(dir);
  auto d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"), {"--hook-root", dir.sub("hooks")});
  setenv("PYTHONPATH", PYTHON_GEN_DIR, 1);
  std::string out, err;
  const std::string spec = dir.sub("db.json");
  std::ofstream(spec) << R"({"name":"db","version":"1.4.0","hooks":{"swap":{"argv":[")" << ok << R"("]}}})";
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "component", "register", "-f", spec, "--commands", d.commands}, "",
                                 &out, &err) == 0);

  // The subscriber (topic filter: upgrade streams only) runs in the background.
  const std::string sub_out = dir.sub("sub.out");
  const pid_t sub = StartSubscriber(sub_out, {"--events", d.events, "--topic", "upgrade/", "--count", "7",
                                              "--timeout-ms", "30000"});
  usleep(300'000);  // a raw SUB has no replay: let the subscription reach the publisher first

  const int rc = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "request-upgrade", "--commands", d.commands, "db", "1.5.0"},
                                  "", &out, &err);
  BOOST_TEST_MESSAGE("request-upgrade: " << out << err);
  BOOST_TEST(rc == 0);
  const size_t ids_at = out.find("accepted ids=");
  BOOST_REQUIRE(ids_at != std::string::npos);
  const std::string id = out.substr(ids_at + 13, 32);
  const std::string events = FinishSubscriber(sub, sub_out);
  BOOST_TEST_MESSAGE(events);
  BOOST_TEST(events.find("UpgradeRequested") != std::string::npos);
  BOOST_TEST(events.find("#UpgradeCompleted): db 1.4.0 -> 1.5.0") != std::string::npos);
  BOOST_TEST(events.find("ComponentRegistered") == std::string::npos);  // filtered by topic

  // Queries answer typed: the client reads the phase as the schema's enum and the registry's tables.
  BOOST_REQUIRE(test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "upgrade-status", "--json", "--commands", d.commands, id},
                                 "", &out, &err) == 0);
  BOOST_TEST(out.find("\"phase\": \"Completed\"") != std::string::npos, out);
  BOOST_TEST(out.find("\"to_version\": \"1.5.0\"") != std::string::npos, out);
  BOOST_REQUIRE(test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "list-components", "--commands", d.commands}, "", &out,
                                 &err) == 0);
  BOOST_TEST(out == "db 1.5.0\n");
  // An upgrade the daemon does not know: refused (NotFound), exit 1.
  BOOST_TEST(test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "upgrade-status", "--commands", d.commands,
                               std::string(32, '0')},
                              "", &out, &err) == 1);
  BOOST_TEST(out.find("NotFound") != std::string::npos, out);

  // A refused request prints the reasons and exits non-zero
  const int bad = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "request-upgrade", "--commands", d.commands, "db", "9.0.0"},
                                   "", &out, &err);
  BOOST_TEST(bad == 1);
  BOOST_TEST(out.find("breaking_change") != std::string::npos);
}

// With a keys file: the client's CURVE keys from flags; no key gets no reply.
BOOST_AUTO_TEST_CASE(python_client_speaks_curve_with_its_own_key) {
  test::TempDir dir;
  const std::string ok = OkHook(dir);
  std::string out, err, keys;
  for (const char* who : {"ops", "py"}) {
    BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "keys", "generate", "--out", dir.sub(who), "--roles",
                                    std::string(who) == "ops" ? "admin,operator,observer" : "operator,observer"},
                                   "", &out, &err) == 0);
    keys += out;
  }
  std::ofstream(dir.sub("keys")) << keys;
  auto d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"),
                                      {"--hook-root", dir.sub("hooks"), "--keys", dir.sub("keys")});
  const std::string server_pub = dir.sub("data/server.pub");
  setenv("PYTHONPATH", PYTHON_GEN_DIR, 1);
  const std::string spec = dir.sub("db.json");
  std::ofstream(spec) << R"({"name":"db","version":"1.4.0","hooks":{"swap":{"argv":[")" << ok << R"("]}}})";
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "component", "register", "-f", spec, "--commands", d.commands,
                                  "--server-key", server_pub, "--key", dir.sub("ops.key")},
                                 "", &out, &err) == 0);

  // No key: nothing past the handshake.
  int rc = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "request-upgrade", "--commands", d.commands, "--timeout-ms",
                             "1000", "db", "1.5.0"},
                            "", &out, &err);
  BOOST_TEST(rc == 3);
  // Its own key, given through the environment: accepted, recorded as "py".
  setenv("NOODLE_SERVER_PUBLIC_KEY", server_pub.c_str(), 1);
  setenv("NOODLE_CLIENT_KEY", dir.sub("py.key").c_str(), 1);
  rc = test::RunProgram({PYTHON_PATH, PYTHON_CLIENT, "request-upgrade", "--commands", d.commands, "--actor", "mallory",
                         "db", "1.5.0"},
                        "", &out, &err);
  unsetenv("NOODLE_SERVER_PUBLIC_KEY");
  unsetenv("NOODLE_CLIENT_KEY");
  BOOST_TEST_MESSAGE("request-upgrade: " << out << err);
  BOOST_TEST(rc == 0);
  BOOST_TEST(out.find("accepted ids=") != std::string::npos);
  // The subscriber with flags: it sees the upgrade stream from the start? A raw
  // SUB has no replay, so ask for a new upgrade after it subscribed.
  const std::string sub_out = dir.sub("sub.out");
  const pid_t sub = StartSubscriber(sub_out, {"--events", d.events, "--topic", "upgrade/", "--count", "1",
                                              "--timeout-ms", "30000", "--server-key", server_pub, "--key",
                                              dir.sub("py.key")});
  usleep(500'000);  // the CURVE handshake and the subscription reach the publisher
  rc = test::RunProgram({UPGRADECTL_PATH, "upgrade", "start", "db", "1.6.0", "--commands", d.commands, "--server-key",
                         server_pub, "--key", dir.sub("py.key")},
                        "", &out, &err);
  BOOST_TEST(rc == 0);
  const std::string events = FinishSubscriber(sub, sub_out);
  BOOST_TEST(events.find("UpgradeRequested") != std::string::npos);
  // The actor is the key's name; what the client claimed stays a note (requested_by).
  BOOST_REQUIRE(test::RunProgram({UPGRADECTL_PATH, "events", "replay", "--replay", d.replay, "--stream", "upgrade/",
                                  "--json", "--server-key", server_pub, "--key", dir.sub("ops.key")},
                                 "", &out, &err) == 0);
  BOOST_TEST(out.find("\"actor\":\"mallory\"") == std::string::npos);
  BOOST_TEST(out.find("\"requested_by\":\"mallory\"") != std::string::npos);
  BOOST_TEST(out.find("\"actor\":\"py\"") != std::string::npos);
}
