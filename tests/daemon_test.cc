// upgraded as a real process: SIGKILL during a stream of commands, restart,
// nothing acknowledged lost, a checkpointed subscriber resumes gap-free;
// SIGTERM stops cleanly; a second daemon on the same data is refused;
// upgradectl against it.
#define BOOST_TEST_MODULE daemon
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <sstream>
#include <thread>

#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

using namespace noodle;

namespace {

using Daemon = test::DaemonProcess;

proj::Component Comp(const std::string& name) {
  proj::Component c;
  c.name = name;
  c.version = "1.0.0";
  c.hooks["swap"] = proj::Hook{{"true"}, false, 5000};
  return c;
}

struct Acked {
  proj::Id command_id;
  std::vector<uint64_t> seqs;
};

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_during_commands_loses_no_acknowledged_event_and_subscribers_resume) {
  test::TempDir dir;
  Daemon d = Daemon::Start(UPGRADED_PATH, dir.sub("data"));

  // A subscriber keeps a checkpoint of what it has processed.
  uint64_t checkpoint = 0;
  std::atomic<bool> stop_reader{false};
  std::thread reader([&] {
    bus::SubscriberOptions o;
    o.event_endpoint = d.events;
    o.replay_endpoint = d.replay;
    std::unique_ptr<bus::EventSubscriber> sub;
    if (!bus::EventSubscriber::Open(o, &sub).ok()) return;
    while (!stop_reader) {
      bus::ReceivedEvent ev;
      if (sub->Next(50, &ev).ok()) checkpoint = ev.seq;
    }
  });

  // Commands stream in; the daemon is killed in the middle of it.
  std::vector<Acked> acked;
  std::unique_ptr<bus::CommandClient> client;
  bus::CommandClientOptions co;
  co.timeout_ms = 1000;
  co.retries = 0;
  bus::CommandClient::Connect(d.commands, co, &client);
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    d.Stop(SIGKILL);
  });
  for (int i = 0; i < 100'000; ++i) {
    const proj::Id cid{0xC0, static_cast<uint64_t>(i + 1)};
    auto bytes = client->Call(engine::cmd::Register(Comp("svc-" + std::to_string(i)), {cid, 0, "test"}));
    if (!bytes.ok()) break;  // the daemon is gone
    engine::Reply r;
    BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
    BOOST_REQUIRE(r.accepted);
    acked.push_back({cid, r.seqs});
  }
  killer.join();
  stop_reader = true;
  reader.join();
  BOOST_TEST_MESSAGE(acked.size() << " commands acknowledged before SIGKILL; subscriber checkpoint " << checkpoint);
  BOOST_REQUIRE(!acked.empty());

  // Restart on the same data: every acknowledged command's event is there.
  Daemon again = Daemon::Start(UPGRADED_PATH, dir.sub("data"));
  std::vector<std::string> events;
  uint64_t last = 0;
  for (uint64_t from = 1;;) {
    std::vector<std::string> batch;
    BOOST_REQUIRE(bus::FetchReplay(again.replay, from, 0, 1000, &batch, &last).ok());
    if (batch.empty()) break;
    from += batch.size();
    for (auto& b : batch) events.push_back(std::move(b));
  }
  BOOST_REQUIRE(events.size() == last);
  for (const auto& a : acked) {
    BOOST_REQUIRE(a.seqs.size() == 1u);
    const auto* env = fb::GetEventEnvelope(events.at(a.seqs[0] - 1).data());
    BOOST_REQUIRE(proj::Id::From(env->causation_id()) == a.command_id);
  }
  BOOST_TEST(last >= acked.size());

  // The subscriber resumes from its checkpoint: no gap, no duplicate.
  bus::SubscriberOptions o;
  o.event_endpoint = again.events;
  o.replay_endpoint = again.replay;
  o.from_seq = checkpoint + 1;
  std::unique_ptr<bus::EventSubscriber> sub;
  BOOST_REQUIRE(bus::EventSubscriber::Open(o, &sub).ok());
  uint64_t expect = checkpoint + 1;
  for (int idle = 0; expect <= last && idle < 100;) {
    bus::ReceivedEvent ev;
    if (!sub->Next(100, &ev).ok()) {
      ++idle;
      continue;
    }
    BOOST_REQUIRE_EQUAL(ev.seq, expect);
    ++expect;
  }
  BOOST_TEST(expect == last + 1);

  // SIGTERM: a clean stop (exit 0)
  const int status = again.Stop(SIGTERM);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(a_second_daemon_on_the_same_data_is_refused) {
  test::TempDir dir;
  Daemon d = Daemon::Start(UPGRADED_PATH, dir.sub("data"));
  std::string out, err;
  const int rc = test::RunProgram({UPGRADED_PATH, "--data-dir", dir.sub("data"), "--commands", "tcp://127.0.0.1:0",
                                   "--events", "tcp://127.0.0.1:0", "--replay", "tcp://127.0.0.1:0"},
                                  "", &out, &err);
  BOOST_TEST(rc == 1);
  BOOST_TEST(err.find("another process holds") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(upgradectl_talks_to_the_daemon_with_documented_exit_codes) {
  test::TempDir dir;
  // Hooks run only from a hook root: one script there that succeeds.
  const std::string ok = dir.sub("hooks/ok.sh");
  std::filesystem::create_directories(dir.sub("hooks"));
  std::ofstream(ok) << "#!/bin/sh\nexit 0\n";
  std::filesystem::permissions(ok, std::filesystem::perms(0755));
  Daemon d = Daemon::Start(UPGRADED_PATH, dir.sub("data"), {"--hook-root", dir.sub("hooks")});
  auto ctl = [&](std::vector<std::string> args, std::string* out = nullptr) {
    std::vector<std::string> argv{UPGRADECTL_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--commands", d.commands, "--events", d.events, "--replay", d.replay, "--request-timeout", "2000ms"});
    std::string o, e;
    const int rc = test::RunProgram(argv, "", &o, &e);
    if (out != nullptr) *out = o + e;
    return rc;
  };
  const std::string spec = dir.sub("db.json");
  std::ofstream(spec) << R"({"name":"db","version":"1.4.0","hooks":{"swap":{"argv":[")" << ok << R"("]},"health":{"argv":[")"
                       << ok << R"("]}}})";
  std::string out;
  BOOST_TEST(ctl({"component", "register", "-f", spec}) == 0);
  BOOST_TEST(ctl({"upgrade", "start", "db", "1.5.0", "--wait", "20s"}, &out) == 0);
  BOOST_TEST(out.find("completed") != std::string::npos);
  BOOST_TEST(ctl({"upgrade", "start", "db", "2.0.0"}, &out) == 1);  // breaking: rejected
  BOOST_TEST(out.find("breaking_change") != std::string::npos);
  BOOST_TEST(ctl({"upgrade", "start", "db", "not-a-version"}, &out) == 2);  // bad input, refused before sending
  BOOST_TEST(out.find("not-a-version") != std::string::npos);
  BOOST_TEST(ctl({"upgrade", "start", "db"}, &out) == 2);  // usage
  BOOST_TEST(ctl({"component", "list", "--json"}, &out) == 0);
  BOOST_TEST(out.find("\"1.5.0\"") != std::string::npos);
  BOOST_TEST(ctl({"stats", "--json"}, &out) == 0);
  BOOST_TEST(out.find("{\"count\":1,\"outcome\":\"Completed\"}") != std::string::npos, out);  // the typed answer's JSON
  BOOST_TEST(ctl({"audit", "verify"}, &out) == 0);
  BOOST_TEST(out.find("chain holds") != std::string::npos);
  BOOST_TEST(ctl({"events", "replay", "--type", "UpgradeCompleted", "--json"}, &out) == 0);
  BOOST_TEST(out.find("\"to_version\":\"1.5.0\"") != std::string::npos);
  BOOST_TEST(ctl({"watch", "-e", "--from", "1", "--idle", "500ms"}, &out) == 0);
  BOOST_TEST(out.find("completed") != std::string::npos);
  d.Stop(SIGTERM);
  BOOST_TEST(ctl({"status"}, &out) == 3);  // unreachable
}

BOOST_AUTO_TEST_CASE(settings_come_from_a_config_file_and_the_environment) {
  test::TempDir dir;
  const std::string config = dir.sub("upgraded.json");
  std::ofstream(config) << R"({"data_dir": ")" << dir.sub("from-config") << R"(", "snapshot_every": 7, "max_running": 3})";
  {
    Daemon d = Daemon::Start(UPGRADED_PATH, "", {"--config", config});
    BOOST_TEST(std::filesystem::exists(dir.sub("from-config") + "/log"));
  }
  // The environment wins over the file, flags win over both
  setenv("NOODLE_DATA_DIR", dir.sub("from-env").c_str(), 1);
  {
    Daemon d = Daemon::Start(UPGRADED_PATH, "", {"--config", config});
    BOOST_TEST(std::filesystem::exists(dir.sub("from-env") + "/log"));
  }
  {
    Daemon d = Daemon::Start(UPGRADED_PATH, dir.sub("from-flag"), {"--config", config});
    BOOST_TEST(std::filesystem::exists(dir.sub("from-flag") + "/log"));
  }
  unsetenv("NOODLE_DATA_DIR");
  // A config file that does not parse is refused with exit 2
  std::ofstream(config) << "{not json";
  std::string out, err;
  BOOST_TEST(test::RunProgram({UPGRADED_PATH, "--config", config}, "", &out, &err) == 2);
  BOOST_TEST(err.find("bad configuration") != std::string::npos);
}
