// The seed's performance scenarios with the seed's own limits, through the
// real daemon and the real upgradectl (every upgrade runs its swap and
// health hooks): 10 sequential upgrades (average < 0.2 s, max < 0.3 s,
// total < 2 s), 5 batches of 10 concurrent upgrades (< 5 s), and the
// daemon's memory growth over 20 upgrades (< 100 MB). The only timing
// assertions in the suite, labelled `performance`. With NOODLE_PERF_REPORT
// set, the measured figures are written there as JSON for the test report.
#define BOOST_TEST_MODULE performance
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon_process.h"
#include "support/test_support.h"

namespace {

using Clock = std::chrono::steady_clock;
using noodle::test::DaemonProcess;

// The daemon's resident set, in MB, from /proc.
double RssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

struct Rig {
  noodle::test::TempDir dir;
  DaemonProcess d;
  static DaemonProcess StartIn(const noodle::test::TempDir& dir) {
    std::filesystem::create_directories(dir.sub("hooks"));
    std::ofstream(dir.sub("hooks/ok.sh")) << "#!/bin/sh\nexit 0\n";
    std::filesystem::permissions(dir.sub("hooks/ok.sh"), std::filesystem::perms(0755));
    return DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"), {"--hook-root", dir.sub("hooks"), "--max-running", "16"});
  }
  Rig() : d(StartIn(dir)) {}
  int Ctl(std::vector<std::string> args) {
    std::vector<std::string> argv{UPGRADECTL_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--commands", d.commands, "--events", d.events, "--replay", d.replay});
    std::string out, err;
    const int rc = noodle::test::RunProgram(argv, "", &out, &err);
    if (rc != 0) BOOST_TEST_MESSAGE(out << err);
    return rc;
  }
  void Register(const std::string& name) {
    const std::string spec = dir.sub(name + ".json"), ok = dir.sub("hooks/ok.sh");
    std::ofstream(spec) << R"({"name":")" << name << R"(","version":"1.0.0","hooks":{"swap":{"argv":[")" << ok
                        << R"("]},"health":{"argv":[")" << ok << R"("]}}})";
    BOOST_REQUIRE(Ctl({"component", "register", "-f", spec}) == 0);
  }
  // One upgrade from request to completion, as an operator runs it; seconds.
  double Upgrade(const std::string& name, int minor) {
    const auto start = Clock::now();
    BOOST_REQUIRE(Ctl({"upgrade", "start", name, "1." + std::to_string(minor) + ".0", "--wait", "30s"}) == 0);
    return std::chrono::duration<double>(Clock::now() - start).count();
  }
};

nlohmann::json& Report() {
  static nlohmann::json report = nlohmann::json::object();
  return report;
}

struct WriteReport {
  ~WriteReport() {
    if (const char* path = std::getenv("NOODLE_PERF_REPORT")) std::ofstream(path) << Report().dump(2) << "\n";
  }
};
BOOST_TEST_GLOBAL_FIXTURE(WriteReport);

}  // namespace

BOOST_AUTO_TEST_CASE(ten_sequential_upgrades) {
  Rig rig;
  rig.Register("seq");
  std::vector<double> took;
  for (int i = 1; i <= 10; ++i) took.push_back(rig.Upgrade("seq", i));
  double total = 0, max = 0, min = took.front();
  for (double t : took) total += t, max = std::max(max, t), min = std::min(min, t);
  const double average = total / static_cast<double>(took.size());
  BOOST_TEST_MESSAGE("10 sequential upgrades: average " << average << " s, max " << max << " s, total " << total << " s");
  Report()["sequential"] = {{"count", took.size()}, {"avg_s", average}, {"min_s", min}, {"max_s", max}, {"total_s", total}};
  BOOST_TEST(average < 0.2);
  BOOST_TEST(max < 0.3);
  BOOST_TEST(total < 2.0);
}

BOOST_AUTO_TEST_CASE(five_batches_of_ten_concurrent_upgrades) {
  Rig rig;
  for (int c = 0; c < 10; ++c) rig.Register("conc" + std::to_string(c));
  const auto start = Clock::now();
  for (int batch = 1; batch <= 5; ++batch) {
    std::vector<std::thread> clients;
    for (int c = 0; c < 10; ++c) clients.emplace_back([&, c] { rig.Upgrade("conc" + std::to_string(c), batch); });
    for (auto& t : clients) t.join();
  }
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  BOOST_TEST_MESSAGE("5 batches of 10 concurrent upgrades: " << total << " s");
  Report()["concurrent"] = {{"batches", 5}, {"per_batch", 10}, {"total_s", total}};
  BOOST_TEST(total < 5.0);
}

BOOST_AUTO_TEST_CASE(memory_growth_over_twenty_upgrades) {
  Rig rig;
  rig.Register("mem");
  const double before = RssMb(rig.d.pid);
  for (int i = 1; i <= 20; ++i) rig.Upgrade("mem", i);
  const double after = RssMb(rig.d.pid);
  BOOST_TEST_MESSAGE("daemon RSS " << before << " MB -> " << after << " MB over 20 upgrades");
  Report()["memory"] = {{"upgrades", 20}, {"rss_before_mb", before}, {"rss_after_mb", after}, {"growth_mb", after - before}};
  BOOST_TEST(before > 0.0);
  BOOST_TEST(after - before < 100.0);
}
