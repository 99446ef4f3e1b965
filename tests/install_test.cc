// Issue 12, acceptance 1: `cmake --install` into a fresh prefix, then a
// project outside the repository (tests/install_consumer) finds the package,
// talks to the installed upgraded through Noodle::client and builds a plugin
// against Noodle::plugin_sdk that the daemon loads. Also: what the prefix
// holds, --version everywhere, the systemd unit, sd_notify.
#define BOOST_TEST_MODULE install
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/daemon_process.h"
#include "support/test_support.h"

using namespace noodle;
namespace fs = std::filesystem;

namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One install for every case, into a prefix under a temp dir that goes
// when the program ends.
struct Installed {
  Installed() { rc = test::RunProgram({CMAKE_COMMAND, "--install", BUILD_DIR, "--prefix", prefix}, "", &out, &err); }
  test::TempDir dir;
  std::string prefix = dir.sub("prefix");
  int rc = -1;
  std::string out, err;
  std::string bin(const std::string& program) const { return prefix + "/bin/" + program; }
};

const Installed& Install() {
  static const Installed installed;
  BOOST_REQUIRE_MESSAGE(installed.rc == 0, "cmake --install failed: " + installed.out + installed.err);
  return installed;
}

// Configures tests/install_consumer against the prefix into build_dir,
// asking find_package for `want` ("" for any). Returns cmake's exit code.
int ConfigureConsumer(const std::string& build_dir, const std::string& want, std::string* log) {
  std::vector<std::string> argv{CMAKE_COMMAND, "-S", CONSUMER_DIR, "-B", build_dir,
                                "-DCMAKE_PREFIX_PATH=" + Install().prefix, "-DCMAKE_BUILD_TYPE=Release",
                                "-DCMAKE_CXX_COMPILER=" CXX_COMPILER, "-DNOODLE_WANT=" + want};
  // The installed libraries of a sanitizer build need the runtime linked in.
  if (std::string(CONSUMER_CXX_FLAGS).size() > 0) {
    argv.push_back("-DCMAKE_CXX_FLAGS=" CONSUMER_CXX_FLAGS);
    argv.push_back("-DCMAKE_EXE_LINKER_FLAGS=" CONSUMER_CXX_FLAGS);
  }
  std::string out, err;
  const int rc = test::RunProgram(argv, "", &out, &err);
  *log = out + err;
  return rc;
}

}  // namespace

BOOST_AUTO_TEST_CASE(install_lays_out_programs_headers_package_unit_config_completion_and_docs) {
  const auto& i = Install();
  for (const char* f : {"bin/upgraded", "bin/upgradectl", "bin/noodle-log", "bin/upgrade-agent", "bin/noodle-plugin-trial",
                        "include/noodle/bus/client.h", "include/noodle/protocol/commands.h",
                        "include/noodle/protocol/query_result.h", "include/noodle/fb/commands_generated.h",
                        "include/noodle/fb/queries_generated.h", "include/noodle/plugin/plugin_abi.h",
                        "include/noodle/status.h", INSTALL_LIBDIR "/libnoodle_protocol.a",
                        INSTALL_LIBDIR "/libnoodle_bus.a", INSTALL_LIBDIR "/cmake/Noodle/NoodleConfig.cmake",
                        INSTALL_LIBDIR "/cmake/Noodle/NoodleConfigVersion.cmake",
                        INSTALL_LIBDIR "/cmake/Noodle/NoodleTargets.cmake", "lib/systemd/system/upgraded.service",
                        "share/noodle/upgraded.example.json", "share/bash-completion/completions/upgradectl",
                        "share/bash-completion/completions/upgraded", "share/doc/noodlecore/design.md",
                        "share/doc/noodlecore/protocol.md", "share/doc/noodlecore/cli/upgradectl.md"}) {
    BOOST_TEST(fs::exists(i.prefix + "/" + f), f);
  }
  // The client's headers only: the log, the service and the host stay inside.
  BOOST_TEST(!fs::exists(i.prefix + "/include/noodle/store/event_log.h"));
  BOOST_TEST(!fs::exists(i.prefix + "/include/noodle/engine/engine.h"));
}

BOOST_AUTO_TEST_CASE(every_installed_program_prints_its_version) {
  const auto& i = Install();
  for (const char* p : {"upgraded", "upgradectl", "noodle-log", "upgrade-agent", "noodle-plugin-trial"}) {
    std::string out, err;
    BOOST_TEST(test::RunProgram({i.bin(p), "--version"}, "", &out, &err) == 0, p);
    BOOST_TEST(out.rfind(std::string(p) + " " + PROJECT_VERSION, 0) == 0, p << " printed: " << out << err);
  }
}

BOOST_AUTO_TEST_CASE(the_unit_starts_the_installed_daemon_and_systemd_accepts_it) {
  const auto& i = Install();
  const std::string unit = i.prefix + "/lib/systemd/system/upgraded.service";
  const std::string text = Slurp(unit);
  BOOST_TEST(Contains(text, "\nType=notify\n"));
  BOOST_TEST(Contains(text, "\nExecStart=" + i.bin("upgraded") + " --config /etc/noodle/upgraded.json\n"), text);
  for (const char* option : {"ProtectSystem=", "PrivateTmp=", "NoNewPrivileges=", "ProtectHome="}) {
    BOOST_TEST(Contains(text, std::string("\n") + option), option);
  }
  // systemd's own parser: an unknown key or a bad value is a warning here.
  std::string out, err;
  const int rc = test::RunProgram({"/usr/bin/systemd-analyze", "verify", unit}, "", &out, &err);
  BOOST_TEST(rc == 0, out + err);
  BOOST_TEST(!Contains(out + err, "upgraded.service"), out + err);
}

BOOST_AUTO_TEST_CASE(consumer_finds_noodle_queries_the_daemon_and_builds_a_plugin_it_loads) {
  const auto& i = Install();
  test::TempDir dir;
  const std::string build = dir.sub("consumer");
  std::string log;
  BOOST_REQUIRE_MESSAGE(ConfigureConsumer(build, NOODLE_VERSION_MAJOR_MINOR, &log) == 0, log);
  std::string out, err;
  BOOST_REQUIRE_MESSAGE(test::RunProgram({CMAKE_COMMAND, "--build", build, "-j2"}, "", &out, &err) == 0, out + err);
  const std::string client = build + "/probe_client", plugins = build + "/plugins";
  BOOST_REQUIRE(fs::exists(plugins + "/probe/1.1.0/libprobe.so"));

  // The installed daemon with the installed example config; the test's
  // flags win over it (data, endpoints, roots).
  fs::create_directories(dir.sub("hooks"));
  const std::string marker = dir.sub("marker");
  setenv("PROBE_MARKER", marker.c_str(), 1);
  auto d = test::DaemonProcess::Start(i.bin("upgraded"), dir.sub("data"),
                                      {"--config", i.prefix + "/share/noodle/upgraded.example.json", "--hook-root",
                                       dir.sub("hooks"), "--plugin-dir", plugins});
  unsetenv("PROBE_MARKER");

  BOOST_TEST(test::RunProgram({client, d.commands}, "", &out, &err) == 0, err);
  BOOST_TEST(out == "status seq=0 active=0 recent=0\n", out);

  BOOST_TEST(test::RunProgram({client, d.commands, plugins, "1.0.0", "1.1.0", "1.2.0"}, "", &out, &err) == 0, err);
  BOOST_TEST(Contains(out, "upgrade 1.1.0 Completed\n"), out);
  // 1.2.0 says it is unhealthy: the daemon ran its health check and went back.
  BOOST_TEST(Contains(out, "upgrade 1.2.0 RolledBack\n"), out);
  BOOST_TEST(Contains(out, " active=0 recent=2\n"), out);
  const std::string created = Slurp(marker);
  for (const char* line : {"1.0.0 create\n", "1.1.0 create\n", "1.2.0 create\n"}) {
    BOOST_TEST(Contains(created, line), line << " not in: " << created);
  }
  const int status = d.Stop(SIGTERM);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));

  // Nobody listening any more: the client says so with its exit code.
  BOOST_TEST(test::RunProgram({client, d.commands}, "", &out, &err) == 3, out + err);
}

BOOST_AUTO_TEST_CASE(find_package_refuses_a_version_this_install_does_not_provide) {
  test::TempDir dir;
  // CMake found the package and turned its version down (not: found nothing).
  const std::string refused = "NoodleConfig.cmake, version: " PROJECT_VERSION;
  std::string log;
  BOOST_TEST(ConfigureConsumer(dir.sub("newer"), "99.0", &log) != 0);
  BOOST_TEST(Contains(log, refused), log);
  // 0.x: another minor release is another API.
  BOOST_TEST(ConfigureConsumer(dir.sub("older"), "0.0", &log) != 0);
  BOOST_TEST(Contains(log, refused), log);
}

BOOST_AUTO_TEST_CASE(upgraded_tells_systemd_when_it_is_ready_and_when_it_stops) {
  const auto& i = Install();
  test::TempDir dir;
  const std::string socket_path = dir.sub("notify");
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  BOOST_REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval wait{10, 0};  // a bound on a broken build, not a timing check
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  auto receive = [fd] {
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };

  setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
  auto d = test::DaemonProcess::Start(i.bin("upgraded"), dir.sub("data"));
  unsetenv("NOTIFY_SOCKET");
  const std::string ready = receive();
  BOOST_TEST(Contains(ready, "READY=1"), ready);
  BOOST_TEST(Contains(ready, "STATUS=serving commands on " + d.commands), ready);
  const int status = d.Stop(SIGTERM);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  BOOST_TEST(Contains(receive(), "STOPPING=1"));
  close(fd);
}
