// Faults of a real daemon: its data directory on a small tmpfs that fills up
// (mounted in this process's own mount namespace), and SIGTERM while a hook
// runs. Nothing acknowledged may be lost, nothing may abort, and a step that
// finished must not be reverted because the daemon stopped.
#define BOOST_TEST_MODULE faults
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "noodle/envelope.h"
#include "noodle/store/event_log.h"
#include "support/daemon_process.h"
#include "support/test_support.h"
#include "support/typed_answers.h"

using namespace noodle;
using Clock = std::chrono::steady_clock;
using Daemon = test::DaemonProcess;
BOOST_TEST_DONT_PRINT_LOG_VALUE(noodle::fb::RejectCode)

namespace {

// A tmpfs of size_mb at dir, visible to this process and its children only.
// False (with why) where mounting is impossible (not root, no namespaces).
bool MountTmpfs(const std::string& dir, int size_mb, std::string* why) {
  static const std::string entered = [] {
    if (unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    // Mounts made here must not propagate back to the host.
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("make / private: ") + std::strerror(errno);
    }
    return std::string();
  }();
  if (!entered.empty()) {
    *why = entered;
    return false;
  }
  std::filesystem::create_directories(dir);
  std::string options = "size=";
  options += std::to_string(size_mb);
  options += "m,mode=0700";
  if (mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    *why = std::string("mount tmpfs: ") + std::strerror(errno);
    return false;
  }
  return true;
}

// Writes path until the filesystem is full; returns the bytes written.
size_t Fill(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  BOOST_REQUIRE(fd >= 0);
  size_t total = 0;
  std::string chunk(1 << 20, 'f');
  for (size_t size : {size_t{1} << 20, size_t{4096}, size_t{1}}) {
    for (int i = 0; i < 100'000; ++i) {
      const ssize_t n = ::write(fd, chunk.data(), size);
      if (n <= 0) break;
      total += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return total;
}

// Writes path until the filesystem has only leave_bytes free.
void FillLeaving(const std::string& path, const std::string& fs_dir, uint64_t leave_bytes) {
  const auto space = std::filesystem::space(fs_dir);
  BOOST_REQUIRE(space.available > leave_bytes);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::posix_fallocate(fd, 0, static_cast<off_t>(space.available - leave_bytes)) == 0);
  ::close(fd);
}

proj::Component Plain(const std::string& name) {
  proj::Component c;
  c.name = name;
  c.version = "1.0.0";
  return c;
}

// Registers components in a loop, one command at a time, and keeps what the
// daemon acknowledged (seq -> component) and what it refused.
class CommandStream {
 public:
  explicit CommandStream(const std::string& endpoint) {
    bus::CommandClientOptions o;
    o.timeout_ms = 3000;
    o.retries = 0;
    BOOST_REQUIRE(bus::CommandClient::Connect(endpoint, o, &client_).ok());
    thread_ = std::thread([this] { Run(); });
  }
  ~CommandStream() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked() const { return acked_count_.load(); }
  size_t refused_full() const { return refused_full_.load(); }
  std::map<uint64_t, std::string> acked_seqs() {
    std::lock_guard<std::mutex> lock(mu_);
    return seqs_;
  }
  std::string other_failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return other_;
  }

 private:
  void Run() {
    for (uint64_t i = 0; !stop_ && i < 10'000'000; ++i) {
      std::string name = "svc-";
      name += std::to_string(i);
      auto bytes = client_->Call(engine::cmd::Register(Plain(name), {{0xFA, i + 1}, 0, "test"}));
      engine::Reply r;
      if (!bytes.ok() || !engine::DecodeReply(bytes.value(), &r).ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        other_ = bytes.ok() ? "undecodable reply" : bytes.status().ToString();
        return;  // the daemon is gone (stopped by the test)
      }
      if (r.accepted) {
        std::lock_guard<std::mutex> lock(mu_);
        for (uint64_t seq : r.seqs) seqs_[seq] = name;
        ++acked_count_;
      } else if (r.code == fb::RejectCode::Unavailable && r.message.find("disk full") != std::string::npos) {
        ++refused_full_;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        std::lock_guard<std::mutex> lock(mu_);
        other_ = r.message;
      }
    }
  }

  std::unique_ptr<bus::CommandClient> client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> acked_count_{0}, refused_full_{0};
  std::mutex mu_;
  std::map<uint64_t, std::string> seqs_;
  std::string other_;
};

engine::Reply Call(bus::CommandClient& client, const std::string& command) {
  engine::Reply r;
  auto bytes = client.Call(command);
  BOOST_REQUIRE_MESSAGE(bytes.ok(), bytes.status().ToString());
  BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
  return r;
}

std::unique_ptr<bus::CommandClient> Client(const Daemon& d) {
  std::unique_ptr<bus::CommandClient> c;
  bus::CommandClientOptions o;
  o.timeout_ms = 5000;
  BOOST_REQUIRE(bus::CommandClient::Connect(d.commands, o, &c).ok());
  return c;
}

// Reads are answered while the disk is full: a query through the engine and
// a replay of the first events.
void CheckReadsWork(const Daemon& d) {
  auto client = Client(d);
  const engine::Reply q = Call(*client, engine::cmd::QueryStatistics());
  BOOST_TEST(q.accepted);
  bus::SubscriberOptions so;
  so.event_endpoint = d.events;
  so.replay_endpoint = d.replay;
  std::unique_ptr<bus::EventSubscriber> sub;
  BOOST_REQUIRE(bus::EventSubscriber::Open(so, &sub).ok());
  bus::ReceivedEvent ev;
  BOOST_TEST(sub->Next(5000, &ev).ok());
  BOOST_TEST(ev.seq == 1u);
}

// Every acknowledged seq holds the event of the command it acknowledged,
// and the chain verifies.
void CheckNothingLost(const std::string& data, const std::map<uint64_t, std::string>& acked) {
  std::unique_ptr<store::EventLog> log;
  store::LogOptions o;
  o.mode = store::OpenMode::kReadOnly;
  BOOST_REQUIRE(store::EventLog::Open(data, o, &log).ok());
  size_t present = 0;
  for (const auto& [seq, name] : acked) {
    auto ev = log->Read(seq);
    if (ev.ok() && ev->envelope()->stream()->str() == "component/" + name) ++present;
  }
  BOOST_TEST(present == acked.size());
  uint64_t checked = 0;
  const Status verified = log->Verify(1, UINT64_MAX, &checked);
  BOOST_TEST(verified.ok(), verified.ToString());
  BOOST_TEST(checked == log->LastSeq());
}

// Frees the filler and returns the seconds until the stream's next
// acknowledgement (or a large number when none came within the bound).
double FreeAndTimeRecovery(const std::string& filler, CommandStream& stream) {
  const size_t before = stream.acked();
  const auto freed = Clock::now();
  BOOST_REQUIRE(::unlink(filler.c_str()) == 0);
  test::WaitFor([&] { return stream.acked() > before; }, 30);
  if (stream.acked() == before) return 1e9;
  return std::chrono::duration<double>(Clock::now() - freed).count();
}

const std::vector<std::string> kSmallDaemon = {"--min-free-mb", "0", "--write-buffer-mb", "1"};

// A tmpfs of size_mb under dir, or a warning saying why the case is skipped.
bool SmallFilesystem(const test::TempDir& dir, int size_mb, std::string* mnt) {
  *mnt = dir.sub("fs");
  std::string why;
  if (MountTmpfs(*mnt, size_mb, &why)) return true;
  BOOST_WARN_MESSAGE(false, "skipped: a small filesystem cannot be mounted here: " + why);
  return false;
}

// Fills the disk until the stream is refused, then SIGTERM: a clean exit.
void StopWhileFull(Daemon& d, CommandStream& stream, const std::string& filler) {
  const size_t refused_before = stream.refused_full();
  Fill(filler);
  BOOST_REQUIRE(test::WaitFor([&] { return stream.refused_full() > refused_before; }, 30));
  const int status = d.Stop(SIGTERM);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  stream.Stop();
  ::unlink(filler.c_str());
}

}  // namespace

BOOST_AUTO_TEST_CASE(ten_fills_in_a_row_lose_nothing_and_writes_resume_without_a_restart) {
  test::TempDir dir;
  std::string mnt;
  if (!SmallFilesystem(dir, 24, &mnt)) return;
  const std::string data = mnt + "/data", filler = mnt + "/filler";
  Daemon d = Daemon::Start(UPGRADED_PATH, data, kSmallDaemon);
  CommandStream stream(d.commands);
  BOOST_REQUIRE(test::WaitFor([&] { return stream.acked() >= 50; }, 30));

  double slowest = 0;
  for (int fill = 1; fill <= 10; ++fill) {
    BOOST_TEST_CONTEXT("fill " << fill) {
      const size_t refused_before = stream.refused_full();
      Fill(filler);
      BOOST_REQUIRE(test::WaitFor([&] { return stream.refused_full() > refused_before; }, 30));
      BOOST_TEST(::kill(d.pid, 0) == 0);  // still alive
      CheckReadsWork(d);
      const double seconds = FreeAndTimeRecovery(filler, stream);
      slowest = std::max(slowest, seconds);
      // The bound: writes are accepted again within 5 s of freeing space.
      BOOST_TEST(seconds < 5.0);
    }
  }
  BOOST_TEST_MESSAGE("slowest recovery after freeing space: " << slowest << " s");

  StopWhileFull(d, stream, filler);
  BOOST_TEST(stream.other_failure().find("disk") == std::string::npos);
  BOOST_TEST(stream.acked() > 50u);
  CheckNothingLost(data + "/log", stream.acked_seqs());
}

BOOST_AUTO_TEST_CASE(a_daemon_started_on_a_full_disk_serves_reads_and_accepts_writes_once_there_is_room) {
  test::TempDir dir;
  std::string mnt;
  if (!SmallFilesystem(dir, 16, &mnt)) return;
  const std::string data = mnt + "/data", filler = mnt + "/filler";
  std::map<uint64_t, std::string> acked;
  {
    Daemon d = Daemon::Start(UPGRADED_PATH, data, kSmallDaemon);
    auto client = Client(d);
    for (int i = 0; i < 20; ++i) {
      std::string name = "before-";
      name += std::to_string(i);
      const engine::Reply r = Call(*client, engine::cmd::Register(Plain(name)));
      BOOST_REQUIRE(r.accepted);
      for (uint64_t seq : r.seqs) acked[seq] = name;
    }
    BOOST_TEST(WEXITSTATUS(d.Stop(SIGTERM)) == 0);
  }
  Fill(filler);
  Daemon d = Daemon::Start(UPGRADED_PATH, data, kSmallDaemon);  // requires its ready line
  CheckReadsWork(d);
  {
    auto client = Client(d);
    const engine::Reply r = Call(*client, engine::cmd::Register(Plain("while-full")));
    BOOST_TEST(!r.accepted);
    BOOST_TEST(r.message.find("disk full") != std::string::npos, r.message);
  }
  CommandStream stream(d.commands);
  BOOST_REQUIRE(test::WaitFor([&] { return stream.refused_full() > 0; }, 30));
  const double seconds = FreeAndTimeRecovery(filler, stream);
  BOOST_TEST_MESSAGE("writes accepted " << seconds << " s after freeing space");
  BOOST_TEST(seconds < 5.0);

  StopWhileFull(d, stream, filler);
  for (const auto& [seq, name] : stream.acked_seqs()) acked[seq] = name;
  CheckNothingLost(data + "/log", acked);
}

namespace {

// A hook root with one swap hook: it sleeps its first argument's seconds on
// the way forward (not when reverting) and records each run.
struct SlowHook {
  std::string root, script, runs;
  explicit SlowHook(const test::TempDir& dir) : root(dir.sub("hooks")), script(root + "/slow-swap.sh"), runs(dir.sub("runs")) {
    std::filesystem::create_directories(root);
    std::ofstream(script) << "#!/bin/sh\n"
                             "echo \"$NOODLE_REVERT $NOODLE_TO\" >> '"
                          << runs
                          << "'\n"
                             "[ \"$NOODLE_REVERT\" = 1 ] || sleep \"$1\"\n"
                             "echo \"done $NOODLE_TO\" >> '"
                          << runs << "'\n";
    ::chmod(script.c_str(), 0755);
    ::chmod(root.c_str(), 0755);
  }
  proj::Component Component(const std::string& name, int seconds) const {
    proj::Component c = Plain(name);
    c.hooks["swap"] = proj::Hook{{script, std::to_string(seconds)}, false, 60'000};
    return c;
  }
  std::string Runs() const {
    std::ifstream in(runs);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

// What the daemon says of one upgrade, read from its typed answer; json for messages.
struct UpgradeState {
  fb::Phase phase = fb::Phase::Queued;
  std::string reason;
  std::string json;
};
UpgradeState UpgradeStatus(bus::CommandClient& client, const proj::Id& id) {
  const engine::Reply r = Call(client, engine::cmd::QueryStatus(id));
  const auto& u = test::Answer<fb::UpgradeInfo>(r);
  return {u.phase(), test::Str(u.reason()), engine::ResultJson(r)};
}

// Registers the component, starts its upgrade and waits until the hook runs.
proj::Id StartUpgrade(const Daemon& d, const SlowHook& hook, const std::string& name, int seconds) {
  auto client = Client(d);
  BOOST_REQUIRE(Call(*client, engine::cmd::Register(hook.Component(name, seconds))).accepted);
  engine::cmd::UpgradeRequest r;
  r.component = name;
  r.target_version = "1.1.0";
  r.target = hook.Component(name, seconds);
  r.target->version = "1.1.0";
  proj::Id id;
  const engine::Reply rep = Call(*client, engine::cmd::Upgrade(r, {}, &id));
  BOOST_REQUIRE_MESSAGE(rep.accepted, rep.message);
  BOOST_REQUIRE(test::WaitFor([&] { return hook.Runs().find("0 1.1.0") != std::string::npos; }, 30));
  return id;
}

std::vector<std::string> Args(const SlowHook& hook, const std::string& grace) {
  return {"--hook-root", hook.root, "--stop-grace", grace};
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigterm_during_a_long_hook_exits_after_the_grace_and_the_restart_rolls_it_back) {
  test::TempDir dir;
  SlowHook hook(dir);
  const std::string data = dir.sub("data");
  proj::Id id;
  {
    Daemon d = Daemon::Start(UPGRADED_PATH, data, Args(hook, "3"));
    id = StartUpgrade(d, hook, "long", 20);
    const auto t0 = Clock::now();
    const int status = d.Stop(SIGTERM);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    BOOST_TEST_MESSAGE("exit " << seconds << " s after SIGTERM (grace 3 s)");
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    BOOST_TEST(seconds < 4.0);  // the bound: grace plus one second
  }
  Daemon d = Daemon::Start(UPGRADED_PATH, data, Args(hook, "3"));
  auto client = Client(d);
  BOOST_REQUIRE(test::WaitFor([&] { return UpgradeStatus(*client, id).phase == fb::Phase::RolledBack; }, 30));
  const auto u = UpgradeStatus(*client, id);
  BOOST_TEST(u.reason.find("interrupted") != std::string::npos, u.json);
  BOOST_TEST(hook.Runs().find("1 1.0.0") != std::string::npos);  // the revert ran
}

BOOST_AUTO_TEST_CASE(sigterm_during_a_short_hook_records_its_success_and_reverts_nothing) {
  test::TempDir dir;
  SlowHook hook(dir);
  const std::string data = dir.sub("data");
  proj::Id id;
  {
    Daemon d = Daemon::Start(UPGRADED_PATH, data, Args(hook, "5"));
    id = StartUpgrade(d, hook, "short", 1);
    const int status = d.Stop(SIGTERM);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
  }
  Daemon d = Daemon::Start(UPGRADED_PATH, data, Args(hook, "5"));
  auto client = Client(d);
  const auto u = UpgradeStatus(*client, id);
  BOOST_TEST((u.phase == fb::Phase::Completed), u.json);
  const engine::Reply reg = Call(*client, engine::cmd::QueryRegistry("short"));
  BOOST_TEST(test::Answer<fb::ComponentInfo>(reg).spec()->version()->str() == "1.1.0", engine::ResultJson(reg));
  BOOST_TEST(hook.Runs().find("1 ") == std::string::npos, hook.Runs());  // no revert ever ran
}

BOOST_AUTO_TEST_CASE(a_step_that_ends_while_the_disk_is_full_is_recorded_once_there_is_room) {
  test::TempDir dir;
  std::string mnt;
  if (!SmallFilesystem(dir, 16, &mnt)) return;
  SlowHook hook(dir);
  const std::string data = mnt + "/data", filler = mnt + "/filler";
  std::vector<std::string> args = kSmallDaemon;
  args.insert(args.end(), {"--hook-root", hook.root});
  Daemon d = Daemon::Start(UPGRADED_PATH, data, args);
  const proj::Id id = StartUpgrade(d, hook, "held", 2);
  Fill(filler);
  // The hook ends while nothing can be recorded: its result waits in memory.
  BOOST_REQUIRE(test::WaitFor([&] { return hook.Runs().find("done 1.1.0") != std::string::npos; }, 30));
  auto client = Client(d);
  BOOST_TEST((UpgradeStatus(*client, id).phase == fb::Phase::Running));
  const engine::Reply refused = Call(*client, engine::cmd::Register(Plain("while-full")));
  BOOST_TEST(refused.message.find("disk full") != std::string::npos, refused.message);
  BOOST_REQUIRE(::unlink(filler.c_str()) == 0);
  BOOST_REQUIRE(test::WaitFor([&] { return UpgradeStatus(*client, id).phase == fb::Phase::Completed; }, 30));
  BOOST_TEST(hook.Runs().find("1 ") == std::string::npos, hook.Runs());  // nothing reverted
  const int status = d.Stop(SIGTERM);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(below_min_free_new_upgrades_are_refused_and_the_running_one_finishes) {
  test::TempDir dir;
  std::string mnt;
  if (!SmallFilesystem(dir, 32, &mnt)) return;
  SlowHook hook(dir);
  const std::string data = mnt + "/data", filler = mnt + "/filler";
  Daemon d = Daemon::Start(UPGRADED_PATH, data,
                           {"--min-free-mb", "8", "--write-buffer-mb", "1", "--hook-root", hook.root});
  const proj::Id id = StartUpgrade(d, hook, "guarded", 2);
  FillLeaving(filler, mnt, 4u << 20);  // under the 8 MB guard, above the log's 1 MB reserve
  auto client = Client(d);
  // The engine reads the free space at most every 250 ms: registrations
  // may pass until it has seen the filler.
  engine::Reply refused;
  int attempt = 0;
  test::WaitFor([&] {
    std::string name = "new-";
    name += std::to_string(++attempt);
    refused = Call(*client, engine::cmd::Register(Plain(name)));
    return !refused.accepted;
  }, 10);
  BOOST_TEST(!refused.accepted);
  BOOST_TEST(refused.code == fb::RejectCode::Unavailable);
  BOOST_TEST(refused.message.find("low disk") != std::string::npos, refused.message);
  // The upgrade in flight records its step and completes.
  BOOST_REQUIRE(test::WaitFor([&] { return UpgradeStatus(*client, id).phase == fb::Phase::Completed; }, 30));
  ::unlink(filler.c_str());
  BOOST_REQUIRE(test::WaitFor([&] { return Call(*client, engine::cmd::Register(Plain("later"))).accepted; }, 10));
  BOOST_TEST(WEXITSTATUS(d.Stop(SIGTERM)) == 0);
}
