// fleet_bench: the seed's three performance scenarios at 1,000x their
// counts, through the real upgraded (spawned as a process, tcp loopback)
// and its plugin host: 10,000 components running the counter plugin.
//   1. "10 upgrades"            -> 10,000 upgrades (1.0.0 -> 1.1.0), all at once
//   2. "5 batches of 10"        -> 5 batches of 2,000 concurrent upgrades (1.1.0 -> 2.0.0)
//   3. "memory during 20"       -> the daemon's RSS before, between and after
// Per upgrade: time from sending its RequestUpgrade to its UpgradeCompleted
// reaching an EventSubscriber.
//
//   fleet_bench [--components N] [--sync on|off] [--write-buffer-mb M]
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
#include <sstream>
#include <thread>
#include <vector>
#include <zmq_addon.hpp>

#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "noodle/envelope.h"

namespace {

using namespace noodle;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct Daemon {
  pid_t pid = -1;
  std::string commands, events, replay;
};

Daemon Spawn(const std::string& data, const std::string& sync, const std::string& write_buffer_mb) {
  int out[2];
  if (pipe(out) != 0) std::exit(1);
  Daemon d;
  d.pid = fork();
  if (d.pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(UPGRADED_PATH, "upgraded", "--data", data.c_str(), "--commands", "tcp://127.0.0.1:0", "--events",
          "tcp://127.0.0.1:0", "--replay", "tcp://127.0.0.1:0", "--log-level", "warn", "--plugin-dir", PLUGIN_DIR,
          "--plugin-trial", "off", "--max-running", "100000", "--sync", sync.c_str(), "--write-buffer-mb",
          write_buffer_mb.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char line[512] = {0};
  if (fgets(line, sizeof line, f) == nullptr) std::exit(1);
  fclose(f);
  std::istringstream in(line);
  std::string word;
  in >> word >> d.commands >> d.events >> d.replay;
  return d;
}

double RssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
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

struct Completions {
  std::mutex mu;
  std::map<proj::Id, Clock::time_point> done;
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
        }
      }
    });
  }
  size_t Count(const std::vector<proj::Id>& ids) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& id : ids) n += done.count(id);
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
  for (size_t i = 0; i < count; ++i) {
    engine::cmd::UpgradeRequest r;
    r.component = "svc-" + std::to_string(first + i);
    r.target_version = to;
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

}  // namespace

int main(int argc, char** argv) {
  size_t n = 10'000;
  std::string sync = "on", write_buffer_mb = "64";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--components")) n = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sync")) sync = argv[i + 1];
    else if (!std::strcmp(argv[i], "--write-buffer-mb")) write_buffer_mb = argv[i + 1];
  }
  const std::string dir = fs::temp_directory_path() / ("fleet_bench." + std::to_string(getpid()));
  fs::remove_all(dir);
  Daemon d = Spawn(dir, sync, write_buffer_mb);
  std::printf("fleet_bench: %u cores; upgraded (sync %s, write buffer %s MB, plugin host, trial off); %zu components on the counter plugin\n\n",
              std::thread::hardware_concurrency(), sync.c_str(), write_buffer_mb.c_str(), n);
  Completions completions;
  completions.Start(d);

  std::vector<std::string> registrations;
  for (size_t i = 0; i < n; ++i) {
    proj::Component c;
    c.name = "svc-" + std::to_string(i);
    c.version = "1.0.0";
    c.executor = fb::ExecutorKind::Plugin;
    c.metadata["plugin"] = "counter";
    registrations.push_back(engine::cmd::Register(c));
  }
  size_t rejected = 0;
  SendAll(d.commands, registrations, &rejected);
  const double rss0 = RssMb(d.pid);

  const Run s1 = Upgrades(d, completions, 0, n, "1.1.0", false);
  const double rss1 = RssMb(d.pid);
  std::printf("1. %zu upgrades at once        total %6.3f s   per upgrade p50 %7.1f ms  p99 %7.1f ms   completed %zu, rejected %zu\n",
              n, s1.seconds, s1.p50_ms, s1.p99_ms, s1.completed, s1.rejected);
  const size_t batch = n / 5;
  double s2_total = 0, worst_p99 = 0;
  size_t s2_completed = 0;
  for (int b = 0; b < 5; ++b) {
    const Run r = Upgrades(d, completions, b * batch, batch, "2.0.0", true);
    s2_total += r.seconds;
    worst_p99 = std::max(worst_p99, r.p99_ms);
    s2_completed += r.completed;
  }
  const double rss2 = RssMb(d.pid);
  std::printf("2. 5 batches of %zu concurrent  total %6.3f s   worst batch p99 %7.1f ms   completed %zu\n", batch, s2_total,
              worst_p99, s2_completed);
  std::printf("3. daemon RSS: %.1f MB after registering, %.1f MB after scenario 1, %.1f MB after scenario 2 (growth %.1f MB)\n",
              rss0, rss1, rss2, rss2 - rss0);

  completions.stop = true;
  completions.thread.join();
  kill(d.pid, SIGTERM);
  int status = 0;
  waitpid(d.pid, &status, 0);
  fs::remove_all(dir);
  return 0;
}
