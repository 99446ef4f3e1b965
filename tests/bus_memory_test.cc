// Bounded memory per subscriber (issue 10), with a subscriber that
// subscribes and never reads:
// - in process, the bytes the bus server hands ZeroMQ (ServerCounters) stay
//   within the per-subscriber budget, drop to nothing once the subscriber has
//   gone, and large events go out as "$skipped" notices;
// - the real upgraded with ~500 MB of events published through it: its RSS
//   (VmRSS) stays within a stated bound while that subscriber is stalled and
//   comes back once it has gone.
// Either way a subscriber that reads still receives every event, in order.
//
// Events of two sizes go through: just under ServerOptions'
// event_live_max_bytes (sent live, so they queue for the stalled subscriber
// up to its byte budget) and far above it (sent as "$skipped" notices, so the
// reader fetches them from the replay endpoint). The daemon's log runs with
// sync off and a 4 MB memtable so the store's own memory stays small next to
// what is measured.
#define BOOST_TEST_MODULE bus_memory
#include <boost/test/unit_test.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>
#include <zmq_addon.hpp>

#include "noodle/bus/client.h"
#include "noodle/bus/server.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "noodle/fb/events_generated.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

using namespace noodle;

// GCC says so with __SANITIZE_*__, clang (the ASan+UBSan build) with __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
constexpr bool kSanitizedBuild = __has_feature(address_sanitizer) || __has_feature(thread_sanitizer);
#else
constexpr bool kSanitizedBuild = false;
#endif

namespace {

constexpr uint64_t kMiB = 1u << 20;
// The stated bounds, over the RSS measured at idle after a warm-up: the
// stalled subscriber's budget plus 40 MiB for what this traffic costs the
// daemon anyway (the block cache filling, memtables, what malloc keeps), and
// that 40 MiB once it has left.
const uint64_t kStalledBound = bus::ServerOptions{}.event_queue_bytes_per_subscriber + 40 * kMiB;
constexpr uint64_t kAfterBound = 40 * kMiB;

uint64_t RssBytes(pid_t pid) {
  std::string path = "/proc/";
  path += std::to_string(pid);
  path += "/status";
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      uint64_t kb = 0;
      fields >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

std::string Mib(uint64_t bytes) {
  std::ostringstream o;
  o.precision(1);
  o << std::fixed << static_cast<double>(bytes) / kMiB << " MiB";
  return o.str();
}

// A raw SUB socket whose own queues are tiny, so what it does not read stays
// with the publisher.
std::unique_ptr<zmq::socket_t> StalledSubscriber(zmq::context_t& ctx, const std::string& endpoint) {
  auto s = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::sub);
  s->set(zmq::sockopt::linger, 0);
  s->set(zmq::sockopt::rcvhwm, 1);
  s->set(zmq::sockopt::rcvbuf, 4096);
  s->set(zmq::sockopt::subscribe, "");
  s->connect(endpoint);
  return s;
}

// Calls publish_one until `sub` has a message (bounded), and takes that one.
bool Connected(zmq::socket_t& sub, const std::function<void()>& publish_one) {
  for (int i = 0; i < 50; ++i) {
    publish_one();
    zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) > 0) {
      std::vector<zmq::message_t> parts;
      return zmq::recv_multipart(sub, std::back_inserter(parts)).has_value();
    }
  }
  return false;
}

// A name of exactly `length` bytes ending in n.
std::string Padded(char fill, size_t length, uint64_t n) {
  std::string tail = std::to_string(n);
  std::string s(length - tail.size(), fill);
  s += tail;
  return s;
}

// What a cycle publishes: a ComponentRegistered event of about
// `registered` bytes (metadata, and `instances` instance names of 120 bytes),
// then a ComponentDeregistered of about `deregistered` bytes (its reason).
struct Sizes {
  size_t registered = 0, instances = 0, deregistered = 0;
};

proj::Component Sized(uint64_t n, const Sizes& sizes) {
  proj::Component c;
  c.name = "mem-";
  c.name += std::to_string(n);
  c.version = "1.0.0";
  for (size_t i = 0; i < sizes.instances; ++i) c.instances.push_back(Padded('i', 120, i));
  // Metadata entries cost about their value + 130 bytes; the envelope ~500.
  size_t left = sizes.registered > 500 + sizes.instances * 140 ? sizes.registered - 500 - sizes.instances * 140 : 0;
  for (size_t i = 0; i < 64 && left > 200; ++i) {
    const size_t value = std::min<size_t>(1000, left - 130);
    c.metadata[Padded('k', 100, i)] = std::string(value, 'v');
    left -= value + 130;
  }
  return c;
}

struct Publisher {
  std::unique_ptr<bus::CommandClient> client;
  uint64_t last_seq = 0;

  // Registers and deregisters one component (the daemon keeps nothing of
  // it): two events of the given sizes.
  void Cycle(uint64_t n, const Sizes& sizes) {
    const proj::Component c = Sized(n, sizes);
    std::string reason(std::min<size_t>(4000, sizes.deregistered > 300 ? sizes.deregistered - 300 : 1), 'r');
    for (const std::string& command : {engine::cmd::Register(c), engine::cmd::Deregister(c.name, reason)}) {
      auto bytes = client->Call(command);
      BOOST_REQUIRE_MESSAGE(bytes.ok(), bytes.status().ToString());
      engine::Reply r;
      BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
      BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
      for (uint64_t s : r.seqs) last_seq = std::max(last_seq, s);
    }
  }
};

// Reads every event in order on its own thread, as a well-behaved client.
struct Reader {
  size_t live_max = 0;
  // Events delivered just under the live limit (its top quarter), and over it.
  std::atomic<uint64_t> next{1}, near_limit{0}, over_limit{0}, refilled{0};
  std::atomic<bool> out_of_order{false}, stop{false};
  std::thread thread;

  void Start(const test::DaemonProcess& d) {
    bus::SubscriberOptions o;
    o.event_endpoint = d.events;
    o.replay_endpoint = d.replay;
    thread = std::thread([this, o] {
      std::unique_ptr<bus::EventSubscriber> sub;
      if (!bus::EventSubscriber::Open(o, &sub).ok()) return;
      while (!stop) {
        bus::ReceivedEvent ev;
        if (!sub->Next(100, &ev).ok()) continue;
        if (ev.seq != next) out_of_order = true;
        next = ev.seq + 1;
        if (ev.bytes.size() > live_max) {
          ++over_limit;
        } else if (ev.bytes.size() > live_max / 4 * 3) {
          ++near_limit;
        }
        refilled = sub->refilled();
      }
    });
  }
  // Waits (bounded) until every seq up to last has been delivered.
  bool WaitFor(uint64_t last) {
    for (int i = 0; i < 600 && next <= last; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return next > last;
  }
  ~Reader() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

// The daemon's RSS sampled on a thread of its own: the most seen.
struct RssSampler {
  std::atomic<uint64_t> peak{0};
  std::atomic<bool> stop{false};
  std::thread thread;
  explicit RssSampler(pid_t pid) {
    thread = std::thread([this, pid] {
      while (!stop) {
        peak = std::max<uint64_t>(peak, RssBytes(pid));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  ~RssSampler() {
    stop = true;
    thread.join();
  }
};

// An in-process log: events appended here are what the replay source serves.
struct MemoryLog {
  std::mutex mu;
  std::vector<std::string> events;
  // Appends an event of about `bytes` bytes and returns it (seq assigned).
  std::string Append(size_t bytes) {
    std::string e = test::MakeEvent("component/mem", bytes);
    std::lock_guard<std::mutex> lock(mu);
    fb::GetMutableEventEnvelope(e.data())->mutate_seq(events.size() + 1);
    events.push_back(e);
    return e;
  }
  uint64_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return events.size();
  }
  bus::ReplaySource Source() {
    return [this](uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* out, uint64_t* last) {
      std::lock_guard<std::mutex> lock(mu);
      *last = events.size();
      const uint64_t end = until == 0 ? *last : std::min<uint64_t>(until, *last);
      for (uint64_t s = from; s <= end && out->size() < max; ++s) out->push_back(events[s - 1]);
      return Status::OK();
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_server_holds_at_most_the_budget_for_a_stalled_subscriber_and_frees_it) {
  bus::ServerOptions so;  // the defaults, but for the ports
  so.command_endpoint = so.event_endpoint = so.replay_endpoint = "tcp://127.0.0.1:0";
  MemoryLog log;
  std::unique_ptr<bus::Server> server;
  BOOST_REQUIRE(bus::Server::Start(so, [](std::string, Principal, std::function<void(std::string)>) {},
                                   log.Source(), &server).ok());
  auto publish = [&](size_t n, size_t bytes) {
    std::vector<std::string> round;
    for (size_t i = 0; i < n; ++i) round.push_back(log.Append(bytes));
    server->Publish(round);
  };

  zmq::context_t ctx(1);
  auto stalled = StalledSubscriber(ctx, server->event_endpoint());
  BOOST_REQUIRE(Connected(*stalled, [&] { publish(1, 100); }));
  // A raw subscriber to the notices only.
  zmq::socket_t notices(ctx, zmq::socket_type::sub);
  notices.set(zmq::sockopt::linger, 0);
  notices.set(zmq::sockopt::subscribe, "$skipped");
  notices.connect(server->event_endpoint());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its subscription reaches the PUB

  // ~80 MB of events just under the live limit, in rounds as the engine
  // publishes them, then 20 far over it.
  const size_t live = so.event_live_max_bytes - 100, large = 200 * 1024;
  for (int r = 0; r < 20; ++r) publish(1000, live);
  const uint64_t first_large = log.size() + 1;
  for (int r = 0; r < 20; ++r) publish(1, large);
  bus::ServerCounters c = server->counters();
  BOOST_TEST_MESSAGE("held for the stalled subscriber: peak " << Mib(c.held_bytes_peak) << ", now "
                     << Mib(c.held_bytes) << " (budget " << Mib(so.event_queue_bytes_per_subscriber) << ")");
  BOOST_TEST(c.held_bytes_peak <= so.event_queue_bytes_per_subscriber);
  BOOST_TEST(c.held_bytes_peak >= so.event_queue_bytes_per_subscriber / 2);  // it did fill: the subscriber is stalled
  BOOST_TEST(c.skipped == 20u);

  // Each large event reached the raw subscriber as ["$skipped"][seq LE].
  for (uint64_t seq = first_large; seq < first_large + 20; ++seq) {
    std::vector<zmq::message_t> parts;
    zmq::pollitem_t item{notices.handle(), 0, ZMQ_POLLIN, 0};
    BOOST_REQUIRE(zmq::poll(&item, 1, std::chrono::milliseconds(5000)) > 0);
    BOOST_REQUIRE(zmq::recv_multipart(notices, std::back_inserter(parts)));
    BOOST_REQUIRE(parts.size() == 2u);
    BOOST_TEST(parts[0].to_string() == "$skipped");
    BOOST_REQUIRE(parts[1].size() == 8u);
    uint64_t got = 0;
    for (int i = 7; i >= 0; --i) got = (got << 8) | static_cast<const unsigned char*>(parts[1].data())[i];
    BOOST_TEST(got == seq);
  }

  // The stalled subscriber leaves; what was queued for it is freed, though
  // nothing more is published.
  stalled.reset();
  BOOST_TEST(test::WaitFor([&] { return server->counters().held_bytes == 0; }, 10));

  // A subscriber that reads gets everything in order: the backlog and the
  // large events from the replay endpoint, then bursts of typical events
  // (engine-sized rounds) live.
  bus::SubscriberOptions o;
  o.event_endpoint = server->event_endpoint();
  o.replay_endpoint = server->replay_endpoint();
  std::unique_ptr<bus::EventSubscriber> sub;
  BOOST_REQUIRE(bus::EventSubscriber::Open(o, &sub).ok());
  std::atomic<bool> done{false};
  std::thread bursts([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int r = 0; r < 8; ++r) publish(4096, 300);
    publish(1, large);  // the newest is a large one: delivered on its notice
    done = true;
  });
  struct Join {
    std::thread& t;
    ~Join() { t.join(); }
  } join_bursts{bursts};
  uint64_t expect = 1;
  for (int idle = 0; idle < 300 && (!done || expect <= log.size());) {
    bus::ReceivedEvent ev;
    if (!sub->Next(100, &ev).ok()) {
      ++idle;
      continue;
    }
    BOOST_REQUIRE_EQUAL(ev.seq, expect);
    ++expect;
  }
  BOOST_TEST(done.load());
  BOOST_TEST(expect == log.size() + 1);
  BOOST_TEST_MESSAGE("the reader got " << expect - 1 << " events, " << sub->refilled() << " of them from the replay endpoint");
  server->Stop();
}

BOOST_AUTO_TEST_CASE(a_stalled_subscriber_costs_bounded_memory_and_none_once_it_leaves) {
  const size_t live_max = bus::ServerOptions{}.event_live_max_bytes;
  test::TempDir dir;
  test::DaemonProcess d =
      test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"), {"--sync", "off", "--write-buffer-mb", "4"});
  const uint64_t fresh = RssBytes(d.pid);
  BOOST_REQUIRE(fresh > 0);

  Publisher pub;
  bus::CommandClientOptions co;
  co.timeout_ms = 10'000;
  BOOST_REQUIRE(bus::CommandClient::Connect(d.commands, co, &pub.client).ok());
  Reader reader;
  reader.live_max = live_max;
  reader.Start(d);

  // Two events just under the live limit per cycle; or a large one (~200 KB,
  // near the spec limits: 1024 instances, 64 metadata entries) and a small one.
  const Sizes live{live_max - 300, 0, live_max - 300};
  const Sizes large{64 * 1130 + 1024 * 140, 1024, 0};
  uint64_t n = 0;

  // Warm-up with both sizes and only the reader, so the store, the caches and
  // malloc reach their working size; then the idle baseline.
  for (int i = 0; i < 2000; ++i) pub.Cycle(++n, live);
  for (int i = 0; i < 200; ++i) pub.Cycle(++n, large);
  BOOST_REQUIRE(reader.WaitFor(pub.last_seq));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  const uint64_t idle = RssBytes(d.pid);

  // The stalled subscriber: subscribes, takes one message to show it is
  // connected, then never reads again.
  zmq::context_t ctx(1);
  auto stalled = StalledSubscriber(ctx, d.events);
  BOOST_REQUIRE_MESSAGE(Connected(*stalled, [&] { pub.Cycle(++n, Sizes{}); }),
                        "the stalled subscriber never received anything");

  // ~80 MB of live-sized events (more than the stalled subscriber's queue
  // takes: its budget is 64 MiB), then ~420 MB of large ones (a seventh of
  // them in a sanitizer build, which checks no RSS bound and runs several
  // times slower).
  const uint64_t large_bytes = (kSanitizedBuild ? 60 : 420) * kMiB;
  const uint64_t large_expected = kSanitizedBuild ? 300u : 2000u;
  uint64_t published_bytes = 0;
  uint64_t during = 0, peak = 0;
  {
    RssSampler sampler(d.pid);
    for (; published_bytes < 80 * kMiB; published_bytes += live.registered + live.deregistered) pub.Cycle(++n, live);
    for (; published_bytes < 80 * kMiB + large_bytes; published_bytes += large.registered) pub.Cycle(++n, large);
    BOOST_REQUIRE(reader.WaitFor(pub.last_seq));
    during = RssBytes(d.pid);
    peak = std::max<uint64_t>(sampler.peak, during);
  }

  // The stalled subscriber leaves; its queue is freed (bounded wait).
  // The daemon frees it within a few housekeeping rounds (200 ms each); one
  // more second, so the figure reported is where RSS settles.
  stalled.reset();
  uint64_t after = RssBytes(d.pid);
  for (int i = 0; i < 50 && after > idle + kAfterBound; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = RssBytes(d.pid);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  after = RssBytes(d.pid);

  BOOST_TEST_MESSAGE("daemon VmRSS: fresh " << Mib(fresh) << ", idle after warm-up " << Mib(idle)
                     << ", stalled subscriber: peak " << Mib(peak) << " (+" << Mib(peak - std::min(peak, idle))
                     << "), at the end " << Mib(during) << "; after it left " << Mib(after) << "; published ~"
                     << Mib(published_bytes) << " in " << pub.last_seq << " events (" << reader.near_limit
                     << " near the live limit, " << reader.over_limit << " over it); the reader refilled "
                     << reader.refilled << " from the replay endpoint");

  // Both kinds of events went through: just under the live limit, and over it.
  BOOST_TEST(reader.near_limit > 2u * 2000u);
  BOOST_TEST(reader.over_limit > large_expected);
  // The reader received every event, in order.
  BOOST_TEST(!reader.out_of_order);
  BOOST_TEST(reader.next == pub.last_seq + 1);
  if (kSanitizedBuild) {
    // ASan's quarantine and shadow memory dominate RSS: the bounds mean nothing there.
    BOOST_TEST_MESSAGE("RSS bounds not checked in a sanitizer build");
    return;
  }
  // The stalled subscriber cost at most the stated bound, and nothing once gone.
  BOOST_TEST(peak <= idle + kStalledBound, "peak " << Mib(peak) << " over idle " << Mib(idle) << " + " << Mib(kStalledBound));
  BOOST_TEST(after <= idle + kAfterBound, "after " << Mib(after) << " over idle " << Mib(idle) << " + " << Mib(kAfterBound));
  // Its queue (~55 MiB here: 14,563 messages of ~3.8 KB) went back to the OS.
  const uint64_t budget = bus::ServerOptions{}.event_queue_bytes_per_subscriber;
  BOOST_TEST(after + budget / 2 <= during, "after " << Mib(after) << " is not " << Mib(budget / 2) << " under "
                                                    << Mib(during));
}
