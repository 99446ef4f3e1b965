// bus_budget_bench: what the per-subscriber byte budget (ServerOptions::
// event_queue_bytes_per_subscriber / event_live_max_bytes, issue 10) costs
// subscribers that keep up, and what it bounds for one that does not.
//
//   bus_budget_bench [--rounds N] [--round-events N] [--event-bytes N]
//                    [--subscribers N] [--sndhwm N,N,...]
//
// For each sndhwm (0: derived from the byte budget, the default), a
// bus::Server over tcp loopback publishes `rounds` rounds of `round-events`
// events back to back (the engine publishes one round per group commit, at
// most 4096 events), to `subscribers` EventSubscribers that are caught up
// and read as fast as they can, plus one raw SUB socket that never reads.
// Prints, per sndhwm: events/s per subscriber (first publish to last
// receipt), events refilled from the replay endpoint (PUB dropped them), and
// the most event bytes the server handed ZeroMQ at once (ServerCounters::
// held_bytes_peak: the stalled subscriber's queue and the readers' in flight).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq_addon.hpp>

#include "noodle/bus/client.h"
#include "noodle/bus/server.h"
#include "noodle/envelope.h"
#include "noodle/fb/events_generated.h"
#include "version.h"

namespace {

using namespace noodle;
using Clock = std::chrono::steady_clock;

struct Log {
  std::mutex mu;
  std::vector<std::string> events;
  std::string Append(size_t bytes) {
    flatbuffers::FlatBufferBuilder fbb(bytes + 256);
    const size_t overhead = 200;
    auto payload = fb::CreateComponentDeregistered(fbb, fbb.CreateString("db-01"),
                                                   fbb.CreateString(std::string(bytes > overhead ? bytes - overhead : 1, 'r')));
    EventMeta meta;
    meta.event_id = NewId();
    meta.stream = "component/bench";
    meta.time_ns = 1;
    std::string e = FinishEvent(fbb, meta, fb::Event::ComponentDeregistered, payload.Union());
    std::lock_guard<std::mutex> lock(mu);
    fb::GetMutableEventEnvelope(e.data())->mutate_seq(events.size() + 1);
    events.push_back(e);
    return e;
  }
  uint64_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return events.size();
  }
};

struct Row {
  double rate = 0;
  uint64_t refilled = 0, held_peak = 0;
  int sndhwm = 0;
};

Row Run(int sndhwm, int rounds, int round_events, size_t event_bytes, int subscribers) {
  bus::ServerOptions so;
  so.command_endpoint = so.event_endpoint = so.replay_endpoint = "tcp://127.0.0.1:0";
  so.event_sndhwm = sndhwm;
  Log log;
  auto replay = [&](uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* out, uint64_t* last) {
    std::lock_guard<std::mutex> lock(log.mu);
    *last = log.events.size();
    const uint64_t end = until == 0 ? *last : std::min<uint64_t>(until, *last);
    for (uint64_t s = from; s <= end && out->size() < max; ++s) out->push_back(log.events[s - 1]);
    return Status::OK();
  };
  std::unique_ptr<bus::Server> server;
  if (!bus::Server::Start(so, [](std::string, Principal, std::function<void(std::string)>) {}, replay, &server).ok()) {
    std::exit(1);
  }
  zmq::context_t ctx(1);
  zmq::socket_t stalled(ctx, zmq::socket_type::sub);
  stalled.set(zmq::sockopt::linger, 0);
  stalled.set(zmq::sockopt::rcvhwm, 1);
  stalled.set(zmq::sockopt::rcvbuf, 4096);
  stalled.set(zmq::sockopt::subscribe, "");
  stalled.connect(server->event_endpoint());

  const uint64_t total = static_cast<uint64_t>(rounds) * round_events + 1;
  std::atomic<int> ready{0};
  std::atomic<uint64_t> refilled{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < subscribers; ++k) {
    threads.emplace_back([&] {
      bus::SubscriberOptions o;
      o.event_endpoint = server->event_endpoint();
      o.replay_endpoint = server->replay_endpoint();
      std::unique_ptr<bus::EventSubscriber> sub;
      if (!bus::EventSubscriber::Open(o, &sub).ok()) std::exit(1);
      bus::ReceivedEvent ev;
      // Caught up on the one event published before the run.
      while (!sub->Next(1000, &ev).ok()) {
      }
      ++ready;
      uint64_t next = 2;
      for (int idle = 0; next <= total && idle < 60;) {
        if (!sub->Next(1000, &ev).ok()) {
          ++idle;
          continue;
        }
        if (ev.seq != next) std::exit(2);
        ++next;
      }
      if (next <= total) std::exit(3);
      refilled += sub->refilled() - 1;
    });
  }
  server->Publish({log.Append(event_bytes)});
  while (ready < subscribers) {
    server->Publish({});
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = Clock::now();
  for (int r = 0; r < rounds; ++r) {
    std::vector<std::string> round;
    round.reserve(round_events);
    for (int i = 0; i < round_events; ++i) round.push_back(log.Append(event_bytes));
    server->Publish(round);
  }
  for (auto& t : threads) t.join();
  Row row;
  row.rate = static_cast<double>(total - 1) / std::chrono::duration<double>(Clock::now() - t0).count();
  row.refilled = refilled / std::max(1, subscribers);
  row.held_peak = server->counters().held_bytes_peak;
  server->Stop();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "bus_budget_bench")) return 0;
  int rounds = 16, round_events = 4096, subscribers = 1;
  size_t event_bytes = 300;
  std::vector<int> hwms = {0, 100'000};
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--round-events")) round_events = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--event-bytes")) event_bytes = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--subscribers")) subscribers = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sndhwm")) {
      hwms.clear();
      std::istringstream in(argv[i + 1]);
      std::string one;
      while (std::getline(in, one, ',')) hwms.push_back(std::stoi(one));
    }
  }
  const bus::ServerOptions defaults;
  std::printf("bus_budget_bench: %d rounds x %d events of ~%zu bytes, %d reading subscriber(s) + 1 stalled;\n"
              "default budget %zu MiB / live max %zu KiB\n",
              rounds, round_events, event_bytes, subscribers, defaults.event_queue_bytes_per_subscriber >> 20,
              defaults.event_live_max_bytes >> 10);
  for (int hwm : hwms) {
    const Row r = Run(hwm, rounds, round_events, event_bytes, subscribers);
    bus::ServerOptions o;
    o.event_sndhwm = hwm;
    const int shown = bus::EventQueueMessages(o);
    std::printf("sndhwm %6d%s  %9.0f ev/s per subscriber  refilled %6llu of %d  held peak %7.1f MiB\n", shown,
                hwm > 0 ? "          " : " (derived)", r.rate, static_cast<unsigned long long>(r.refilled),
                rounds * round_events, static_cast<double>(r.held_peak) / (1 << 20));
  }
  return 0;
}
