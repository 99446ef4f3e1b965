// upgradectl against a real upgraded: a daemon that is not there answered
// fast with exit 3, `upgrade list` and its filters, upgrades addressed by id
// prefix or component, strict input refused with exit 2, rollback plans,
// --dry-run, --yes and the confirmation on a terminal; every exit code of
// the README's table.
#define BOOST_TEST_MODULE upgradectl_daemon
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/daemon_process.h"
#include "support/test_support.h"

using namespace noodle;
using nlohmann::json;

namespace {

// A port nothing listens on: bound by the OS, then released.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  BOOST_REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

struct Result {
  int rc = -1;
  std::string out, err;
};

Result Run(std::vector<std::string> args, const std::vector<std::string>& endpoints) {
  std::vector<std::string> argv{UPGRADECTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), endpoints.begin(), endpoints.end());
  Result r;
  r.rc = test::RunProgram(argv, "", &r.out, &r.err);
  return r;
}

// Runs upgradectl on a pseudo-terminal, answering its question with
// `answer`; returns the exit code and what the terminal showed.
Result RunOnTerminal(std::vector<std::string> args, const std::string& answer) {
  std::vector<char*> argv{const_cast<char*>(UPGRADECTL_PATH)};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  Result r;
  BOOST_REQUIRE(pid > 0);
  bool answered = false;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < end) {  // bounded: a broken build must not hang
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // the child has gone: EIO on the master
    r.out.append(buf, static_cast<size_t>(n));
    if (!answered && r.out.find("[y/N]") != std::string::npos) {
      const std::string line = answer + "\n";
      BOOST_REQUIRE(write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
      answered = true;
    }
  }
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  close(master);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The number of leading characters a and b share.
size_t Common(const std::string& a, const std::string& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// A daemon whose hooks (swap, health) all succeed, and components db 1.4.0, web 1.0.0.
struct Rig {
  test::TempDir dir;
  test::DaemonProcess d;
  std::vector<std::string> endpoints;

  static test::DaemonProcess StartIn(const test::TempDir& dir) {
    const std::string ok = dir.sub("hooks/ok.sh");
    std::filesystem::create_directories(dir.sub("hooks"));
    std::ofstream(ok) << "#!/bin/sh\nexit 0\n";
    std::filesystem::permissions(ok, std::filesystem::perms(0755));
    return test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"), {"--hook-root", dir.sub("hooks")});
  }
  Rig() : d(StartIn(dir)) {
    endpoints = {"--commands", d.commands, "--events", d.events, "--replay", d.replay, "--request-timeout", "5000ms"};
    for (const auto& [name, version] : {std::pair{"db", "1.4.0"}, std::pair{"web", "1.0.0"}}) {
      BOOST_REQUIRE(Ctl({"component", "register", "-f", Spec(name, version)}).rc == 0);
    }
  }
  std::string Spec(const std::string& name, const std::string& version, const std::string& swap = "ok.sh") {
    const std::string ok = dir.sub("hooks/ok.sh"), file = dir.sub(name + "-" + version + ".json");
    std::ofstream(file) << R"({"name":")" << name << R"(","version":")" << version << R"(","hooks":{"swap":{"argv":[")"
                        << dir.sub("hooks/" + swap) << R"("]},"health":{"argv":[")" << ok << R"("]}}})";
    return file;
  }
  Result Ctl(std::vector<std::string> args) { return Run(std::move(args), endpoints); }
  json List(std::vector<std::string> filters = {}) {
    std::vector<std::string> args{"upgrade", "list", "--json"};
    args.insert(args.end(), filters.begin(), filters.end());
    const Result r = Ctl(args);
    BOOST_REQUIRE_MESSAGE(r.rc == 0, r.err);
    return json::parse(r.out);
  }
  std::string Version(const std::string& component) {
    const Result r = Ctl({"component", "list", "--json"});
    BOOST_REQUIRE(r.rc == 0);
    for (const auto& c : json::parse(r.out).value("components", json::array())) {
      if (c.contains("spec") && c["spec"].value("name", "") == component) return c["spec"].value("version", "");
    }
    return "";
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_unreachable_daemon_is_answered_within_two_seconds_with_exit_3_and_a_hint) {
  const std::string dead = "tcp://127.0.0.1:" + std::to_string(FreePort());
  const std::vector<std::string> endpoints{"--commands", dead, "--events", dead, "--replay", dead};
  const std::vector<std::vector<std::string>> commands{
      {"status"},        {"upgrade", "list"},   {"upgrade", "status", "db"}, {"component", "list"},
      {"watch", "--idle", "5s"}, {"watch", "-e", "--from", "1", "--idle", "5s"},
      {"events", "replay"}, {"events", "tail"}, {"audit", "verify"}, {"rollback", "to", "p", "--yes"}};
  for (const auto& c : commands) {
    const auto start = std::chrono::steady_clock::now();
    const Result r = Run(c, endpoints);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST(r.rc == 3, c[0] << " " << (c.size() > 1 ? c[1] : "") << ": " << r.err);
    BOOST_TEST(seconds < 2.0, c[0] << " took " << seconds << " s");
    BOOST_TEST(r.err.find("is upgraded running at " + dead + "?") != std::string::npos, r.err);
  }
  // A malformed endpoint is bad input, not an unreachable daemon
  BOOST_TEST(Run({"status"}, {"--commands", "nonsense"}).rc == 2);
}

BOOST_AUTO_TEST_CASE(upgrades_are_listed_and_addressed_by_id_prefix_or_component) {
  Rig rig;
  BOOST_REQUIRE(rig.Ctl({"upgrade", "start", "db", "1.5.0", "--wait", "30s"}).rc == 0);
  // A canary paused at its first weight stays in flight until promoted
  BOOST_REQUIRE(rig.Ctl({"upgrade", "start", "web", "1.1.0", "--strategy", "canary", "--weights", "10,100"}).rc == 0);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.List({"--phase", "paused"}).size() == 1; }, 30));

  const json all = rig.List();
  BOOST_REQUIRE(all.size() == 2u);
  const json db = rig.List({"--component", "db"});
  BOOST_REQUIRE(db.size() == 1u);
  BOOST_TEST(db[0]["phase"] == "Completed");
  const std::string db_id = db[0]["id"], web_id = rig.List({"--component", "web"})[0]["id"];
  BOOST_TEST(rig.List({"--phase", "COMPLETED"})[0]["id"] == db_id);  // phases match in any case
  BOOST_TEST(rig.List({"--since", "10m"}).size() == 2u);
  BOOST_TEST(rig.List({"--since", "2000-01-01T00:00:00Z"}).size() == 2u);
  BOOST_TEST(rig.List({"--since", "2200-01-01T00:00:00+01:00"}).empty());
  // The table: a header and one aligned row per upgrade, whole ids
  Result r = rig.Ctl({"upgrade", "list"});
  BOOST_TEST(r.rc == 0);
  BOOST_TEST(r.out.find("ID") == 0u);
  BOOST_TEST(r.out.find(db_id) != std::string::npos);
  BOOST_TEST(r.out.find("paused") != std::string::npos);
  BOOST_TEST(rig.Ctl({"upgrade", "list", "--phase", "sleeping"}).rc == 2);
  BOOST_TEST(rig.Ctl({"upgrade", "list", "--since", "yesterday"}).rc == 2);

  // Ids begin with their creation time: both share a prefix
  const size_t common = Common(db_id, web_id);
  BOOST_REQUIRE(common > 0u);
  BOOST_REQUIRE(common < 32u);
  r = rig.Ctl({"upgrade", "status", db_id.substr(0, common + 1), "--json"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.out.find("\"component\":\"db\"") != std::string::npos, r.out);
  r = rig.Ctl({"upgrade", "status", db_id.substr(0, common)});
  BOOST_TEST(r.rc == 2);  // ambiguous: both listed
  BOOST_TEST(r.err.find(db_id) != std::string::npos);
  BOOST_TEST(r.err.find(web_id) != std::string::npos);
  // By component: its upgrade in flight
  r = rig.Ctl({"upgrade", "status", "web", "--json"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.out.find("\"Paused\"") != std::string::npos, r.out);
  r = rig.Ctl({"upgrade", "status", "db"});  // db has none in flight
  BOOST_TEST(r.rc == 2);
  BOOST_TEST(r.err.find("no upgrade matches 'db'") != std::string::npos, r.err);
  BOOST_TEST(rig.Ctl({"upgrade", "status", std::string(32, 'f')}).rc == 1);  // well-formed, unknown: the engine refuses
  BOOST_TEST(rig.Ctl({"upgrade", "promote", "web"}).rc == 0);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.List({"--component", "web", "--phase", "completed"}).size() == 1; }, 30));

  // watch prints whole upgrade ids
  r = rig.Ctl({"watch", "-e", "--from", "1", "--idle", "500ms"});
  BOOST_TEST(r.rc == 0);
  BOOST_TEST(r.out.find("upgrade/" + db_id) != std::string::npos);
  BOOST_TEST(r.out.find("upgrade/" + web_id) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_with_exit_2_and_the_expected_form) {
  Rig rig;
  Result r = rig.Ctl({"upgrade", "start", "db", "not-a-version"});
  BOOST_TEST(r.rc == 2);
  BOOST_TEST(r.err.find("not-a-version") != std::string::npos);
  BOOST_TEST(rig.Ctl({"upgrade", "start", "db", "1.5.0", "--expected", "v1"}).rc == 2);
  BOOST_TEST(rig.List().empty());  // nothing was sent
  r = rig.Ctl({"events", "replay", "--type", "UpgradeComplete"});
  BOOST_TEST(r.rc == 2);
  BOOST_TEST(r.err.find("UpgradeCompleted") != std::string::npos, r.err);  // the valid types listed
  r = rig.Ctl({"events", "replay", "--type", "componentregistered"});
  BOOST_TEST(r.rc == 0);
  BOOST_TEST(r.out.find("ComponentRegistered") != std::string::npos);
  for (const char* time : {"2026-11-29 04:00:00Z", "2026-11-29T04:00:00", "1764388800000000000", "2026-13-01T00:00:00Z",
                           "2026-11-29T04:00Z", "2999-01-01T00:00:00Z", "yesterday"}) {
    r = rig.Ctl({"rollback", "to", "--time", time, "--yes"});
    BOOST_TEST(r.rc == 2, time);
    BOOST_TEST(r.err.find("RFC 3339") != std::string::npos, r.err);
  }
  BOOST_TEST(rig.Version("db") == "1.4.0");  // nothing rolled back
  BOOST_TEST(rig.Version("web") == "1.0.0");
  BOOST_TEST(rig.Ctl({"rollback", "to", "--seq", "1", "--point", "p", "--yes"}).rc == 2);
  BOOST_TEST(rig.Ctl({"upgrade", "start", "db", "2.0.0"}).rc == 1);  // breaking: the engine refuses
  BOOST_TEST(rig.Ctl({"rollback", "to", "no-such-point", "--yes"}).rc == 1);
}

BOOST_AUTO_TEST_CASE(rollback_prints_its_plan_and_asks_unless_yes) {
  Rig rig;
  BOOST_REQUIRE(rig.Ctl({"rollback", "point", "p0"}).rc == 0);
  BOOST_REQUIRE(rig.Ctl({"upgrade", "start", "db", "1.5.0", "--wait", "30s"}).rc == 0);
  BOOST_REQUIRE(rig.Ctl({"component", "register", "-f", rig.Spec("cache", "2.0.0")}).rc == 0);
  BOOST_REQUIRE(rig.Ctl({"component", "deregister", "web"}).rc == 0);

  Result r = rig.Ctl({"rollback", "to", "p0", "--dry-run"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.out.find("downgrade   db     1.5.0 -> 1.4.0") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("register    web    1.0.0") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("deregister  cache  2.0.0") != std::string::npos, r.out);
  BOOST_TEST(rig.Version("db") == "1.5.0");  // a dry run changes nothing
  // The upgrade's own point, by the name watch shows
  const std::string db_id = rig.List({"--component", "db"})[0]["id"];
  r = rig.Ctl({"rollback", "to", "before-upgrade-" + db_id, "--dry-run", "--json"});
  BOOST_TEST(r.rc == 0, r.err);
  const json plan = json::parse(r.out, nullptr, false);
  BOOST_REQUIRE(plan.is_object());
  BOOST_TEST(plan["downgrade"].size() == 1u);
  BOOST_TEST(plan["downgrade"][0]["to"] == "1.4.0");

  // No terminal and no --yes: refused, nothing changed
  r = rig.Ctl({"rollback", "to", "p0"});
  BOOST_TEST(r.rc == 2);
  BOOST_TEST(r.err.find("--yes") != std::string::npos, r.err);
  BOOST_TEST(rig.Version("db") == "1.5.0");
  // On a terminal: the plan, then the question; "n" changes nothing
  std::vector<std::string> to_p0{"rollback", "to", "p0"};
  to_p0.insert(to_p0.end(), rig.endpoints.begin(), rig.endpoints.end());
  r = RunOnTerminal(to_p0, "n");
  BOOST_TEST(r.rc == 1, r.out);
  BOOST_TEST(r.out.find("downgrade   db") != std::string::npos, r.out);
  BOOST_TEST(rig.Version("db") == "1.5.0");
  to_p0.insert(to_p0.end(), {"--wait", "30s"});
  r = RunOnTerminal(to_p0, "y");
  BOOST_TEST(r.rc == 0, r.out);
  BOOST_TEST(rig.Version("db") == "1.4.0");
  BOOST_TEST(rig.Version("web") == "1.0.0");
  BOOST_TEST(rig.Version("cache") == "");
  // --yes without a terminal
  r = rig.Ctl({"rollback", "to", "before-upgrade-" + db_id, "--yes", "--wait", "30s"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.out.find("rollback started") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(pause_lets_the_step_in_flight_finish_and_starts_none_until_resume) {
  Rig rig;
  // A swap hook that holds its step until the test lets it go (bounded: 60 s)
  const std::string go = rig.dir.sub("go");
  const std::string gated = rig.dir.sub("hooks/gated.sh");
  std::ofstream(gated) << "#!/bin/sh\ni=0\nwhile [ ! -f '" << go << "' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\nexit 0\n";
  std::filesystem::permissions(gated, std::filesystem::perms(0755));
  BOOST_REQUIRE(rig.Ctl({"component", "register", "-f", rig.Spec("queue", "1.0.0", "gated.sh")}).rc == 0);
  BOOST_REQUIRE(rig.Ctl({"upgrade", "start", "queue", "1.1.0", "--strategy", "gradual", "--steps", "2"}).rc == 0);
  auto status = [&] {
    const Result r = rig.Ctl({"upgrade", "status", "queue", "--json"});
    return r.rc == 0 ? json::parse(r.out, nullptr, false) : json();
  };
  BOOST_REQUIRE(test::WaitFor([&] { const json s = status(); return s.is_object() && s["steps"][0]["state"] == "Running"; }, 30));

  Result r = rig.Ctl({"upgrade", "pause", "queue", "--reason", "checking dashboards"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.out.find("paused") == 0u, r.out);
  BOOST_TEST(rig.List({"--phase", "paused"}).size() == 1u);
  BOOST_TEST(rig.Ctl({"upgrade", "pause", "queue"}).rc == 1);  // already paused: the engine refuses
  r = rig.Ctl({"upgrade", "status", "queue"});
  BOOST_TEST(r.out.find("the timeout is stopped") != std::string::npos, r.out);
  // The step in flight finishes; the next one does not start
  std::ofstream(go) << "go\n";
  BOOST_REQUIRE(test::WaitFor([&] { return status()["steps"][0]["state"] == "Succeeded"; }, 30));
  json s = status();
  BOOST_TEST(s["phase"] == "Paused");
  BOOST_TEST(s["steps"][1].value("state", "Pending") == "Pending");  // the default is left out of the JSON
  BOOST_TEST(s.value("reason", "").find("checking dashboards") != std::string::npos, s.dump());

  r = rig.Ctl({"upgrade", "resume", "queue"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.List({"--component", "queue", "--phase", "completed"}).size() == 1; }, 30));
  BOOST_TEST(rig.Version("queue") == "1.1.0");
  r = rig.Ctl({"upgrade", "resume", "queue"});  // nothing in flight for queue now
  BOOST_TEST(r.rc == 2);
}

BOOST_AUTO_TEST_CASE(an_unsigned_artifact_exits_4) {
  // The last code of the README's table: an artifact without its signature.
  test::TempDir dir;
  const std::string file = dir.sub("release.tar");
  std::ofstream(file) << "release bytes";
  BOOST_REQUIRE(Run({"artifact", "keygen", "--out", dir.sub("rel")}, {}).rc == 0);
  const Result r = Run({"artifact", "verify", "--signers", dir.sub("rel.pub"), file}, {});
  BOOST_TEST(r.rc == 4, r.out << r.err);
}

BOOST_AUTO_TEST_CASE(wait_follows_the_upgrade_line_by_line_and_shows_a_failing_hooks_output) {
  Rig rig;
  const std::string bad = rig.dir.sub("hooks/bad.sh");
  std::ofstream(bad) << "#!/bin/sh\necho 'loading /etc/web.conf'\necho 'error: port 8080 already in use' >&2\nexit 2\n";
  std::filesystem::permissions(bad, std::filesystem::perms(0755));

  Result r = rig.Ctl({"upgrade", "start", "db", "1.5.0", "--wait", "30s"});
  BOOST_TEST(r.rc == 0, r.err);
  for (const char* line : {"accepted", "StepStarted", "StepSucceeded", "UpgradeCompleted", " completed after "}) {
    BOOST_TEST(r.out.find(line) != std::string::npos, line << " in:\n" << r.out);
  }
  // Progress comes in order: the step starts before the upgrade completes
  BOOST_TEST(r.out.find("StepStarted") < r.out.find("UpgradeCompleted"));

  r = rig.Ctl({"upgrade", "start", "web", "1.1.0", "--target", rig.Spec("web", "1.1.0", "bad.sh"), "--wait", "30s"});
  BOOST_TEST(r.rc == 1, r.out << r.err);
  BOOST_TEST(r.out.find("StepFailed") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("cause: step 1: swap hook failed: exit code 2") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("| error: port 8080 already in use") != std::string::npos, r.out);  // the hook's own words
  BOOST_TEST(r.out.find("| loading /etc/web.conf") != std::string::npos, r.out);
  // upgrade status of the failed upgrade shows the cause and the hook's output too
  const std::string failed = rig.List({"--component", "web"}).at(0)["id"];
  r = rig.Ctl({"upgrade", "status", failed});
  BOOST_TEST(r.out.find("failed step: step 1: swap hook failed: exit code 2") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("| error: port 8080 already in use") != std::string::npos, r.out);

  // -o json: the reply, then one JSON object per event of the upgrade
  r = rig.Ctl({"upgrade", "start", "db", "1.6.0", "--wait", "30s", "-o", "json"});
  BOOST_TEST(r.rc == 0, r.err);
  std::istringstream lines(r.out);
  size_t objects = 0;
  for (std::string line; std::getline(lines, line); ++objects) BOOST_TEST(json::parse(line, nullptr, false).is_object(), line);
  BOOST_TEST(objects >= 4u, r.out);

  // A duration without its unit is refused before anything is sent
  r = rig.Ctl({"upgrade", "start", "db", "1.7.0", "--wait", "30"});
  BOOST_TEST(r.rc == 2);
  BOOST_TEST(r.err.find("30s") != std::string::npos, r.err);
  BOOST_TEST(rig.Ctl({"upgrade", "start", "db", "1.7.0", "--timeout", "600000"}).rc == 2);
  BOOST_TEST(rig.Ctl({"status", "--request-timeout", "5000"}).rc == 2);
  BOOST_TEST(rig.List({"--component", "db"}).size() == 2u);  // 1.5.0 and 1.6.0 only
}

BOOST_AUTO_TEST_CASE(every_view_speaks_table_wide_or_json) {
  Rig rig;
  // component show: fields and tables for people, the typed answer as JSON
  Result r = rig.Ctl({"component", "show", "db"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.out.find("version     1.4.0") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("hooks:") != std::string::npos, r.out);
  BOOST_TEST(r.out.find('{') == std::string::npos, r.out);
  r = rig.Ctl({"component", "show", "db", "-o", "json"});
  BOOST_TEST(json::parse(r.out)["spec"]["version"] == "1.4.0");

  // A dry run explains itself and changes nothing
  r = rig.Ctl({"upgrade", "start", "db", "1.5.0", "--dry-run"});
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.out.find("dry run: upgrade of db 1.4.0 -> 1.5.0 would be accepted") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("nothing was changed") != std::string::npos, r.out);
  r = rig.Ctl({"upgrade", "start", "db", "2.0.0", "--dry-run"});
  BOOST_TEST(r.rc == 1);  // refused: each problem with its code and field
  BOOST_TEST(r.err.find("dry run: upgrade of db would be rejected") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("breaking_change [target_version]") != std::string::npos, r.err);
  BOOST_TEST(rig.List().empty());

  BOOST_REQUIRE(rig.Ctl({"upgrade", "start", "db", "1.5.0", "--wait", "30s"}).rc == 0);
  // Tables: a header, readable durations; wide adds columns
  r = rig.Ctl({"stats"});
  BOOST_TEST(r.out.find("COMPONENT") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("(all)") != std::string::npos, r.out);
  BOOST_TEST(r.out.find(" ms") == std::string::npos, r.out);  // 12ms, 1.2s: never "12.402 ms"
  BOOST_TEST(rig.Ctl({"stats", "-o", "wide"}).out.find("MAX") != std::string::npos);
  BOOST_TEST(rig.Ctl({"component", "list", "-o", "wide"}).out.find("EXECUTOR") != std::string::npos);
  r = rig.Ctl({"status"});
  BOOST_TEST(r.out.find("ENDED") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("completed") != std::string::npos, r.out);
  for (const auto& cmd : std::vector<std::vector<std::string>>{{"status"}, {"stats"}, {"component", "list"}, {"upgrade", "list"}}) {
    auto args = cmd;
    args.insert(args.end(), {"-o", "json"});
    r = rig.Ctl(args);
    BOOST_TEST(!json::parse(r.out, nullptr, false).is_discarded(), cmd[0] << ": " << r.out);
    args.back() = "yaml";
    BOOST_TEST(rig.Ctl(args).rc == 2);
  }
}

BOOST_AUTO_TEST_CASE(watch_into_a_pipe_prints_a_row_per_change) {
  Rig rig;
  Result watched;
  // The watcher may join before, during or after the upgrade: either way the
  // upgrade's last row says it completed.
  std::thread watcher([&] { watched = rig.Ctl({"watch", "--idle", "3s"}); });
  const Result started = rig.Ctl({"upgrade", "start", "db", "1.5.0", "--wait", "30s"});
  watcher.join();
  BOOST_TEST(started.rc == 0, started.err);
  BOOST_TEST(watched.rc == 0, watched.err);
  BOOST_TEST(watched.out.find("ID ") != std::string::npos, watched.out);
  const std::string id = rig.List().at(0)["id"];
  const size_t last = watched.out.rfind(id);
  BOOST_REQUIRE(last != std::string::npos);
  BOOST_TEST(watched.out.substr(last, watched.out.find('\n', last) - last).find("completed") != std::string::npos, watched.out);
  // -e: the event stream instead, bounded by --limit
  const Result events = rig.Ctl({"watch", "-e", "--from", "1", "--limit", "3"});
  BOOST_TEST(events.rc == 0);
  BOOST_TEST(std::count(events.out.begin(), events.out.end(), '#') >= 3, events.out);
}
