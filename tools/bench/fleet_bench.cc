// fleet_bench: the seed's three performance scenarios at 1,000x their
// counts, through the real upgraded (spawned as a process, tcp loopback)
// and its plugin host: 10,000 components running the counter plugin.
//   1. "10 upgrades"            -> 10,000 upgrades (1.0.0 -> 1.1.0), all at once
//   2. "5 batches of 10"        -> 5 batches of 2,000 concurrent upgrades (1.1.0 -> 2.0.0)
//   3. "memory during 20"       -> the daemon's RSS before, between and after
// Per upgrade: time from sending its RequestUpgrade to its UpgradeCompleted
// reaching an EventSubscriber.
//
//   fleet_bench [--components N] [--sync on|off] [--write-buffer-mb M] [--daemon-env NAME=VALUE]... [--hold-s S]
//
// Each plugin version is declared with its library's SHA-256, as the plugin
// host requires by default. --write-buffer-mb is passed on only when given
// (otherwise the daemon's default applies); --daemon-env sets a variable in
// the daemon's environment only (e.g. LD_PRELOAD for a heap profiler);
// --hold-s keeps the daemon running S seconds after the last figure (to
// attach a debugger or read its smaps) and prints its pid.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>
#include <zmq_addon.hpp>

#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "noodle/envelope.h"
#include "version.h"

namespace {

using namespace noodle;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Daemon {
  pid_t pid = -1;
  std::string commands, events, replay;
};

struct Flags {
  size_t components = 10'000;
  std::string sync = "on";
  std::string write_buffer_mb;  // empty: the daemon's default
  std::vector<std::string> daemon_env;
  int hold_s = 0;
};

Daemon Spawn(const std::string& data, const Flags& flags) {
  int out[2];
  if (pipe(out) != 0) std::exit(1);
  std::vector<std::string> args = {"upgraded",  "--data-dir",    data,       "--commands",    "tcp://127.0.0.1:0",
                                   "--events",  "tcp://127.0.0.1:0", "--replay", "tcp://127.0.0.1:0", "--log-level",
                                   "warn",      "--plugin-dir",  PLUGIN_DIR, "--plugin-trial", "off",
                                   "--max-running", "100000",    "--sync",   flags.sync};
  if (!flags.write_buffer_mb.empty()) {
    args.push_back("--write-buffer-mb");
    args.push_back(flags.write_buffer_mb);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Daemon d;
  d.pid = fork();
  if (d.pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    for (const auto& kv : flags.daemon_env) putenv(const_cast<char*>(kv.c_str()));
    execv(UPGRADED_PATH, argv.data());
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char line[512] = {0};
  // A preloaded profiler may print first; the daemon's line starts with "ready".
  do {
    if (fgets(line, sizeof line, f) == nullptr) std::exit(1);
  } while (std::strncmp(line, "ready ", 6) != 0);
  fclose(f);
  std::istringstream in(line);
  std::string word;
  in >> word >> d.commands >> d.events >> d.replay;
  return d;
}

// A field of /proc/<pid>/status in MB (VmRSS, RssAnon, RssFile).
double StatusMb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
  }
  return 0;
}

double RssMb(pid_t pid) { return StatusMb(pid, "VmRSS"); }

// SHA-256 (hex) of a plugin version's library, as a registration declares it.
std::string LibrarySha256(const std::string& version) {
  static std::map<std::string, std::string> known;
  if (auto it = known.find(version); it != known.end()) return it->second;
  const std::string cmd = "/usr/bin/sha256sum " + std::string(PLUGIN_DIR) + "/counter/" + version + "/libcounter.so";
  FILE* p = popen(cmd.c_str(), "r");
  char hex[65] = {0};
  if (p == nullptr || fread(hex, 1, 64, p) != 64) {
    std::fprintf(stderr, "cannot hash %s\n", cmd.c_str());
    std::exit(1);
  }
  pclose(p);
  return known[version] = hex;
}

proj::Component CounterComponent(size_t i, const std::string& version) {
  proj::Component c;
  c.name = "svc-" + std::to_string(i);
  c.version = version;
  c.executor = fb::ExecutorKind::Plugin;
  c.metadata["plugin"] = "counter";
  c.artifact_sha256 = LibrarySha256(version);
  return c;
}

// Sends every command with many in flight over one DEALER; returns when all replied.
void SendAll(const std::string& endpoint, const std::vector<std::string>& commands, size_t* rejected) {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::sndhwm, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.connect(endpoint);
  size_t sent = 0, got = 0;
  constexpr size_t kWindow = 2000;
  while (got < commands.size()) {
    while (sent < commands.size() && sent - got < kWindow) {
      s.send(zmq::buffer(std::to_string(sent)), zmq::send_flags::sndmore);
      s.send(zmq::buffer(commands[sent]), zmq::send_flags::none);
      ++sent;
    }
    std::vector<zmq::message_t> parts;
    zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::seconds(60)) == 0) {
      std::fprintf(stderr, "no reply for 60 s: %zu of %zu answered\n", got, commands.size());
      std::exit(1);
    }
    if (!zmq::recv_multipart(s, std::back_inserter(parts))) continue;
    engine::Reply r;
    if (parts.size() != 2 || !engine::DecodeReply(parts[1].to_string_view(), &r).ok() || !r.accepted) {
      ++*rejected;
      if (*rejected == 1) std::fprintf(stderr, "first rejection: %s\n", r.message.c_str());
    }
    ++got;
  }
}

// The upgrade an event ends other than by completing (rejected, failed
// without rollback, rolled back), or null.
const fb::Id128* OtherEnd(const fb::EventEnvelope& env) {
  if (const auto* r = env.event_as_UpgradeRejected()) return r->upgrade_id();
  if (const auto* f = env.event_as_UpgradeFailed(); f != nullptr && !f->rollback()) return f->upgrade_id();
  if (const auto* r = env.event_as_RollbackCompleted()) return r->upgrade_id();
  if (const auto* r = env.event_as_RollbackFailed()) return r->upgrade_id();
  return nullptr;
}

struct Completions {
  std::mutex mu;
  std::map<proj::Id, Clock::time_point> done;
  std::set<proj::Id> failed;  // ended without completing
  std::atomic<bool> stop{false};
  std::thread thread;
  void Start(const Daemon& d) {
    thread = std::thread([this, d] {
      bus::SubscriberOptions o;
      o.event_endpoint = d.events;
      o.replay_endpoint = d.replay;
      std::unique_ptr<bus::EventSubscriber> sub;
      bus::EventSubscriber::Open(o, &sub);
      while (!stop) {
        bus::ReceivedEvent ev;
        if (!sub->Next(50, &ev).ok()) continue;
        const auto* env = fb::GetEventEnvelope(ev.bytes.data());
        if (const auto* c = env->event_as_UpgradeCompleted()) {
          std::lock_guard<std::mutex> lock(mu);
          done[proj::Id::From(c->upgrade_id())] = Clock::now();
        } else if (const fb::Id128* id = OtherEnd(*env)) {
          std::lock_guard<std::mutex> lock(mu);
          if (failed.emplace(proj::Id::From(id)).second && failed.size() == 1) {
            std::fprintf(stderr, "first upgrade that did not complete: %s\n", fb::EnumNameEvent(env->event_type()));
          }
        }
      }
    });
  }
  size_t Count(const std::vector<proj::Id>& ids) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& id : ids) n += done.count(id) + failed.count(id);
    return n;
  }
};

struct Run {
  double seconds = 0, p50_ms = 0, p99_ms = 0;
  size_t rejected = 0, completed = 0;
};

Run Upgrades(const Daemon& d, Completions& c, size_t first, size_t count, const std::string& to, bool breaking) {
  std::vector<std::string> commands;
  std::vector<proj::Id> ids(count);
  const proj::Component target = CounterComponent(0, to);
  for (size_t i = 0; i < count; ++i) {
    engine::cmd::UpgradeRequest r;
    r.component = "svc-" + std::to_string(first + i);
    r.target_version = to;
    r.target = target;
    r.target->name = r.component;
    r.allow_breaking = breaking;
    commands.push_back(engine::cmd::Upgrade(r, {}, &ids[i]));
  }
  Run run;
  const auto t0 = Clock::now();
  SendAll(d.commands, commands, &run.rejected);
  const auto deadline = Clock::now() + std::chrono::seconds(300);
  while (c.Count(ids) < count - run.rejected && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> ms;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (const auto& id : ids) {
      auto it = c.done.find(id);
      if (it != c.done.end()) ms.push_back(std::chrono::duration<double, std::milli>(it->second - t0).count());
    }
  }
  run.completed = ms.size();
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    run.p50_ms = ms[ms.size() / 2];
    run.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  }
  return run;
}

Flags Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--components")) f.components = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sync")) f.sync = argv[i + 1];
    else if (!std::strcmp(argv[i], "--write-buffer-mb")) f.write_buffer_mb = argv[i + 1];
    else if (!std::strcmp(argv[i], "--daemon-env")) f.daemon_env.push_back(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--hold-s")) f.hold_s = std::stoi(argv[i + 1]);
  }
  return f;
}

void PrintRss(const char* when, pid_t pid) {
  std::printf("   RSS %s: %.1f MB (anonymous %.1f MB, file %.1f MB)\n", when, RssMb(pid), StatusMb(pid, "RssAnon"),
              StatusMb(pid, "RssFile"));
}

}  // namespace

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "fleet_bench")) return 0;
  const Flags flags = Parse(argc, argv);
  const size_t n = flags.components;
  const std::string dir = fs::temp_directory_path() / ("fleet_bench." + std::to_string(getpid()));
  fs::remove_all(dir);
  Daemon d = Spawn(dir, flags);
  std::printf("fleet_bench: %u cores; upgraded (sync %s, write buffer %s MB, plugin host, trial off); %zu components on the counter plugin\n\n",
              std::thread::hardware_concurrency(), flags.sync.c_str(),
              flags.write_buffer_mb.empty() ? "default" : flags.write_buffer_mb.c_str(), n);
  Completions completions;
  completions.Start(d);

  std::vector<std::string> registrations;
  for (size_t i = 0; i < n; ++i) registrations.push_back(engine::cmd::Register(CounterComponent(i, "1.0.0")));
  size_t rejected = 0;
  SendAll(d.commands, registrations, &rejected);
  const double rss0 = RssMb(d.pid);
  PrintRss("after registering", d.pid);

  const Run s1 = Upgrades(d, completions, 0, n, "1.1.0", false);
  const double rss1 = RssMb(d.pid);
  std::printf("1. %zu upgrades at once        total %6.3f s   per upgrade p50 %7.1f ms  p99 %7.1f ms   completed %zu, rejected %zu\n",
              n, s1.seconds, s1.p50_ms, s1.p99_ms, s1.completed, s1.rejected);
  PrintRss("after scenario 1", d.pid);
  const size_t batch = n / 5;
  double s2_total = 0, worst_p99 = 0;
  size_t s2_completed = 0;
  for (size_t b = 0; b < 5; ++b) {
    const Run r = Upgrades(d, completions, b * batch, batch, "2.0.0", true);
    s2_total += r.seconds;
    worst_p99 = std::max(worst_p99, r.p99_ms);
    s2_completed += r.completed;
  }
  const double rss2 = RssMb(d.pid);
  std::printf("2. 5 batches of %zu concurrent  total %6.3f s   worst batch p99 %7.1f ms   completed %zu\n", batch, s2_total,
              worst_p99, s2_completed);
  PrintRss("after scenario 2", d.pid);
  std::printf("3. daemon RSS: %.1f MB after registering, %.1f MB after scenario 1, %.1f MB after scenario 2 (growth %.1f MB)\n",
              rss0, rss1, rss2, rss2 - rss0);

  if (flags.hold_s > 0) {
    std::printf("daemon pid %d held for %d s\n", static_cast<int>(d.pid), flags.hold_s);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(flags.hold_s));
  }
  completions.stop = true;
  completions.thread.join();
  kill(d.pid, SIGTERM);
  int status = 0;
  waitpid(d.pid, &status, 0);
  fs::remove_all(dir);
  return 0;
}
