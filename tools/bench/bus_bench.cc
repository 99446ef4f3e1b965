// bus_bench: the bus over tcp loopback, each figure next to a raw ZeroMQ
// baseline from the same run.
//
//   bus_bench [--commands N] [--events N] [--rows commands,load,curve,fanout]
//
// 1. Command -> reply through upgraded's stack (CommandClient -> ROUTER ->
//    engine -> log -> Reply): one client, one command in flight (latency
//    p50/p99/max), registrations with sync off and on, and status queries.
//    Baseline: a raw DEALER -> ROUTER echo of the same bytes.
// 2. Events delivered by Server::Publish to 1 and to 10 EventSubscribers
//    (each verifies, orders and checks every event), next to raw PUB -> SUB
//    of the same frames to the same number of raw subscribers.
// 3. The same with CURVE (keys file, ZAP handler, encryption) next to raw
//    CURVE sockets, and command p99 with CURVE next to plaintext.
// 4. Status queries after 10,000 commands refused as Invalid (names with
//    NUL, '/', '..', over the limit) next to the same queries before them.
// 5. Status queries while writers send 10,000 registrations/s (sync on).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>
#include <zmq_addon.hpp>

#include "noodle/bus/client.h"
#include "noodle/bus/keys.h"
#include "noodle/bus/server.h"
#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "noodle/envelope.h"
#include "noodle/engine/bus_wiring.h"
#include "version.h"

namespace {

using namespace noodle;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Us(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// One server pair and one client pair, and the ring that admits the client.
struct Curve {
  bus::CurveKeyPair server = *bus::GenerateKeyPair();
  bus::CurveKeyPair client = *bus::GenerateKeyPair();
  std::shared_ptr<bus::KeyRing> ring =
      std::make_shared<bus::KeyRing>(std::vector<bus::KeyEntry>{{"bench", kAllRoles, client.public_key}});
  bus::CurveClientKeys keys() const { return {server.public_key, client.public_key, client.secret_key}; }
  void Server(zmq::socket_t& s) const {
    s.set(zmq::sockopt::curve_server, true);
    s.set(zmq::sockopt::curve_secretkey, server.secret_key);
  }
  void Client(zmq::socket_t& s) const {
    s.set(zmq::sockopt::curve_serverkey, server.public_key);
    s.set(zmq::sockopt::curve_publickey, client.public_key);
    s.set(zmq::sockopt::curve_secretkey, client.secret_key);
  }
};
const Curve* g_curve = nullptr;  // set: the rows being measured use CURVE

void Secure(bus::ServerOptions* so) {
  if (g_curve == nullptr) return;
  so->curve = g_curve->server;
  so->keyring = g_curve->ring;
}

struct Latency {
  double per_s = 0, p50 = 0, p99 = 0, max = 0;
};

Latency Summarize(std::vector<double> us, double seconds) {
  std::sort(us.begin(), us.end());
  Latency l;
  l.per_s = us.size() / seconds;
  l.p50 = us[us.size() / 2];
  l.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  l.max = us.back();
  return l;
}

void Print(const char* what, const Latency& l, const Latency& raw) {
  std::printf("%-30s %8.0f /s  p50 %7.1f us  p99 %7.1f us  max %8.1f us   raw echo p50 %5.1f us p99 %5.1f us\n", what,
              l.per_s, l.p50, l.p99, l.max, raw.p50, raw.p99);
}

template <typename MakeCommand>
Latency TimeCommands(const std::string& endpoint, size_t n, MakeCommand make) {
  std::unique_ptr<bus::CommandClient> client;
  bus::CommandClientOptions o;
  if (g_curve != nullptr) o.curve = g_curve->keys();
  bus::CommandClient::Connect(endpoint, o, &client);
  std::vector<std::string> commands;
  for (size_t i = 0; i < n; ++i) commands.push_back(make(i));
  std::vector<double> us;
  const auto t0 = Clock::now();
  for (const auto& c : commands) {
    const auto s = Clock::now();
    if (!client->Call(c).ok()) std::exit(1);
    us.push_back(Us(Clock::now() - s));
  }
  return Summarize(us, std::chrono::duration<double>(Clock::now() - t0).count());
}

Latency RawEcho(size_t n, const std::string& payload) {
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  if (g_curve != nullptr) g_curve->Server(router);  // CURVE without ZAP: any client key
  router.bind("tcp://127.0.0.1:*");
  const std::string ep = router.get(zmq::sockopt::last_endpoint);
  std::thread server([&] {
    for (size_t i = 0; i < n; ++i) {
      std::vector<zmq::message_t> parts;
      (void)zmq::recv_multipart(router, std::back_inserter(parts));
      zmq::send_multipart(router, parts);
    }
  });
  zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
  if (g_curve != nullptr) g_curve->Client(dealer);
  dealer.connect(ep);
  std::vector<double> us;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    const auto s = Clock::now();
    dealer.send(zmq::buffer(std::string(8, 'r')), zmq::send_flags::sndmore);
    dealer.send(zmq::buffer(payload), zmq::send_flags::none);
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(dealer, std::back_inserter(parts));
    us.push_back(Us(Clock::now() - s));
  }
  server.join();
  return Summarize(us, std::chrono::duration<double>(Clock::now() - t0).count());
}

std::vector<std::string> Events(size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    flatbuffers::FlatBufferBuilder fbb(512);
    auto payload = fb::CreateComponentDeregistered(fbb, fbb.CreateString("db-01"), fbb.CreateString(std::string(36, 'r')));
    EventMeta meta;
    meta.event_id = NewId();
    meta.stream = "component/bench";
    meta.time_ns = 1;
    std::string e = FinishEvent(fbb, meta, fb::Event::ComponentDeregistered, payload.Union());
    fb::GetMutableEventEnvelope(e.data())->mutate_seq(i + 1);
    out.push_back(std::move(e));
  }
  return out;
}

// Seconds from the first publish until every subscriber has every event.
double OursFanOut(const std::vector<std::string>& events, int subscribers, uint64_t* refilled) {
  bus::ServerOptions so;
  so.command_endpoint = so.event_endpoint = so.replay_endpoint = "tcp://127.0.0.1:0";
  so.event_sndhwm = static_cast<int>(events.size());
  Secure(&so);
  std::unique_ptr<bus::Server> server;
  std::atomic<uint64_t> published{0};  // the replay source serves only what was published
  auto replay = [&](uint64_t from, uint64_t until, uint32_t max, std::vector<std::string>* out, uint64_t* last) {
    *last = published.load();
    const uint64_t end = until == 0 ? *last : std::min<uint64_t>(until, *last);
    for (uint64_t s = from; s <= end && out->size() < max; ++s) out->push_back(events[s - 1]);
    return Status::OK();
  };
  bus::Server::Start(so, [](std::string, Principal, std::function<void(std::string)>) {}, replay, &server);
  std::atomic<int> ready{0};
  std::atomic<uint64_t> refills{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < subscribers; ++k) {
    threads.emplace_back([&] {
      bus::SubscriberOptions o;
      o.event_endpoint = server->event_endpoint();
      o.replay_endpoint = server->replay_endpoint();
      o.rcvhwm = static_cast<int>(events.size());
      o.idle_check_ms = 1000;
      if (g_curve != nullptr) o.curve = g_curve->keys();
      std::unique_ptr<bus::EventSubscriber> sub;
      bus::EventSubscriber::Open(o, &sub);
      bus::ReceivedEvent ev;
      ++ready;
      uint64_t next = 1;
      while (next <= events.size()) {
        if (sub->Next(1000, &ev).ok()) {
          if (ev.seq != next) std::exit(2);
          ++next;
        }
      }
      refills += sub->refilled();
    });
  }
  while (ready < subscribers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // subscriptions reach the PUB
  const auto t0 = Clock::now();
  constexpr size_t kChunk = 1000;
  for (size_t i = 0; i < events.size(); i += kChunk) {
    const size_t end = std::min(events.size(), i + kChunk);
    published = end;  // "durable" before it is published, as in the engine
    server->Publish(std::vector<std::string>(events.begin() + i, events.begin() + end));
  }
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  *refilled = refills;
  server->Stop();
  return s;
}

double RawFanOut(const std::vector<std::string>& events, int subscribers) {
  zmq::context_t ctx(1);
  zmq::socket_t pub(ctx, zmq::socket_type::pub);
  pub.set(zmq::sockopt::sndhwm, static_cast<int>(events.size()));
  if (g_curve != nullptr) g_curve->Server(pub);
  pub.bind("tcp://127.0.0.1:*");
  const std::string ep = pub.get(zmq::sockopt::last_endpoint);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < subscribers; ++k) {
    threads.emplace_back([&] {
      zmq::socket_t sub(ctx, zmq::socket_type::sub);
      sub.set(zmq::sockopt::rcvhwm, static_cast<int>(events.size()));
      sub.set(zmq::sockopt::subscribe, "");
      if (g_curve != nullptr) g_curve->Client(sub);
      sub.connect(ep);
      ++ready;
      for (size_t i = 0; i < events.size(); ++i) {
        std::vector<zmq::message_t> parts;
        (void)zmq::recv_multipart(sub, std::back_inserter(parts));
      }
    });
  }
  while (ready < subscribers) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string topic = "component/bench#ComponentDeregistered";
  const auto t0 = Clock::now();
  for (const auto& e : events) {
    pub.send(zmq::buffer(topic), zmq::send_flags::sndmore);
    pub.send(zmq::buffer(e), zmq::send_flags::none);
  }
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Row 4 and its baseline: invalid names, then the same queries again.
void InvalidNamesRow(const std::string& endpoint, size_t n_commands, const Latency& q, const Latency& raw) {
  auto query = [](size_t) { return engine::cmd::QueryStatus(); };
  const Latency bad = TimeCommands(endpoint, 10'000, [](size_t i) {
    proj::Component c;
    const std::string names[] = {"..", std::string("a\0b", 3), "a/b", "x\ny", std::string(4096, 'n')};
    c.name = names[i % 5];
    c.version = "1.0.0";
    return engine::cmd::Register(c);
  });
  Print("10,000 invalid names", bad, raw);
  const Latency after = TimeCommands(endpoint, n_commands, query);
  Print("status query after them", after, raw);
  std::printf("%-30s p50 %.1f us / %.1f us before = %.2fx; p99 %.2fx\n", "  after invalid vs before", after.p50, q.p50,
              after.p50 / q.p50, after.p99 / q.p99);
}

// The same engine behind a second, plaintext server: rounds alternate
// between the two so that machine noise hits both alike.
void CurveRatioRow(engine::Engine* eng, store::EventLog* log, const std::string& curve_endpoint, size_t n_commands,
                   const Curve& curve) {
  auto query = [](size_t) { return engine::cmd::QueryStatus(); };
  g_curve = nullptr;
  bus::ServerOptions plain_so;
  plain_so.command_endpoint = plain_so.event_endpoint = plain_so.replay_endpoint = "tcp://127.0.0.1:0";
  std::unique_ptr<bus::Server> plain;
  bus::Server::Start(plain_so, daemon::EngineHandler(eng), daemon::LogReplay(log), &plain);
  std::vector<double> ratios, curve_p99, plain_p99;
  for (int round = 0; round < 7; ++round) {
    g_curve = nullptr;
    const Latency p = TimeCommands(plain->command_endpoint(), n_commands / 2, query);
    g_curve = &curve;
    const Latency c = TimeCommands(curve_endpoint, n_commands / 2, query);
    plain_p99.push_back(p.p99);
    curve_p99.push_back(c.p99);
    ratios.push_back(c.p99 / p.p99);
  }
  plain->Stop();
  std::sort(ratios.begin(), ratios.end());
  std::sort(curve_p99.begin(), curve_p99.end());
  std::sort(plain_p99.begin(), plain_p99.end());
  std::printf("%-30s median of 7 alternating rounds: p99 %.1f us CURVE, %.1f us plaintext; ratio %.2fx "
              "(min %.2f, max %.2f; target <= 1.3x and < 1000 us)\n",
              "CURVE command p99", curve_p99[3], plain_p99[3], ratios[3], ratios.front(), ratios.back());
}

// The write load of row 5: registrations sent at `rate` per second from one
// thread over one DEALER, at most `window` in flight (each writer of a
// fleet with one command in flight). One socket and one thread: a thread
// and a ZeroMQ context per writer would spend the machine's two cores on
// the load generator, not on the engine.
class PacedWriters {
 public:
  PacedWriters(const std::string& endpoint, int window, double rate)
      : thread_([this, endpoint, window, rate] { Run(endpoint, window, rate); }) {}
  ~PacedWriters() {
    stop_ = true;
    thread_.join();
  }
  uint64_t written() const { return written_.load(); }

 private:
  void Run(const std::string& endpoint, int window, double rate) {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
    auto next = Clock::now();
    uint64_t sent = 0;
    int in_flight = 0;
    while (!stop_) {
      // Due and room in the window: send (a tick with the window full is lost).
      for (; Clock::now() >= next; next += period) {
        if (in_flight >= window) continue;
        proj::Component c;
        c.name = "load-" + std::to_string(++sent);
        c.version = "1.0.0";
        const std::string body = engine::cmd::Register(c);
        s.send(zmq::buffer(&sent, sizeof sent), zmq::send_flags::sndmore);
        s.send(zmq::buffer(body), zmq::send_flags::none);
        ++in_flight;
      }
      // zmq_poll counts in whole milliseconds: rounded up, so the sends due
      // meanwhile go out together (never a busy loop of zero waits).
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
      zmq::poll(&item, 1, std::max(wait, std::chrono::milliseconds(1)));
      std::vector<zmq::message_t> reply;
      while (zmq::recv_multipart(s, std::back_inserter(reply), zmq::recv_flags::dontwait)) {
        if (reply.size() == 2) written_.fetch_add(1);
        --in_flight;
        reply.clear();
      }
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> written_{0};
  std::thread thread_;
};

// Status queries while writers send `rate` registrations per second (sync
// on: one fsync per round), each writer with one command in flight, paced.
// Reads come from the newest published version and never wait for a round.
void QueriesUnderLoad(const std::string& endpoint, size_t n_queries, double rate, const Latency& raw) {
  PacedWriters load(endpoint, 256, rate);  // enough in flight to hold the rate through an fsync stall
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the load settles
  const uint64_t w0 = load.written();
  const auto t0 = Clock::now();
  const Latency q = TimeCommands(endpoint, n_queries, [](size_t) { return engine::cmd::QueryStatus(); });
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double achieved = (load.written() - w0) / seconds;
  Print("status query under write load", q, raw);
  std::printf("%-30s %.0f commands/s written (sync on, target %.0f) while querying; p99 %.1f us (target < 1000 us)\n",
              "  the load", achieved, rate, q.p99);
}

struct Row {
  bool sync, curve;
};

// Rows 1, 3 and 4 on one engine and server.
void CommandRows(Row row, const Curve& curve, size_t n_commands) {
  g_curve = row.curve ? &curve : nullptr;
  const bool sync = row.sync;
  const std::string dir = fs::temp_directory_path() / ("bus_bench." + std::to_string(getpid()));
  fs::remove_all(dir);
  std::unique_ptr<store::EventLog> log;
  store::LogOptions lo;
  lo.durability = sync ? store::Durability::kSync : store::Durability::kNoSync;
  store::EventLog::Open(dir, lo, &log);
  std::unique_ptr<engine::Engine> eng;
  daemon::BusPublisher publisher;
  engine::Engine::Open(log.get(), nullptr, &publisher, {}, &eng);
  bus::ServerOptions so;
  so.command_endpoint = so.event_endpoint = so.replay_endpoint = "tcp://127.0.0.1:0";
  Secure(&so);
  std::unique_ptr<bus::Server> server;
  bus::Server::Start(so, daemon::EngineHandler(eng.get()), daemon::LogReplay(log.get()), &server);
  publisher.server = server.get();
  const std::string sample = engine::cmd::Register([] {
    proj::Component c;
    c.name = "svc-000000";
    c.version = "1.0.0";
    return c;
  }());
  const Latency raw = RawEcho(n_commands, sample);
  const Latency reg = TimeCommands(server->command_endpoint(), n_commands, [](size_t i) {
    proj::Component c;
    c.name = "svc-" + std::to_string(i);
    c.version = "1.0.0";
    return engine::cmd::Register(c);
  });
  const char* what = row.curve ? "register (sync off, CURVE)" : sync ? "register (sync on)" : "register (sync off)";
  Print(what, reg, raw);
  if (sync) {
    QueriesUnderLoad(server->command_endpoint(), n_commands, 10'000, raw);
  } else {
    const Latency q = TimeCommands(server->command_endpoint(), n_commands, [](size_t) { return engine::cmd::QueryStatus(); });
    Print(row.curve ? "status query (CURVE)" : "status query", q, raw);
    if (!row.curve) InvalidNamesRow(server->command_endpoint(), n_commands, q, raw);
    else CurveRatioRow(eng.get(), log.get(), server->command_endpoint(), n_commands, curve);
  }
  publisher.server = nullptr;
  server->Stop();
  eng->Stop();
  eng.reset();
  log.reset();
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "bus_bench")) return 0;
  size_t n_commands = 5000, n_events = 200'000;
  std::string rows = "commands,load,curve,fanout";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--commands")) n_commands = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--events")) n_events = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rows")) rows = argv[i + 1];
  }
  auto wanted = [&rows](const char* name) { return rows.find(name) != std::string::npos; };
  std::printf("bus_bench: %u cores, tcp loopback; %zu commands per row, %zu events per fan-out row\n\n",
              std::thread::hardware_concurrency(), n_commands, n_events);
  const Curve curve;
  for (Row row : {Row{false, false}, Row{true, false}, Row{false, true}}) {
    if (wanted(row.curve ? "curve" : row.sync ? "load" : "commands")) CommandRows(row, curve, n_commands);
  }
  g_curve = nullptr;
  if (!wanted("fanout")) return 0;

  std::printf("\n");
  const auto events = Events(n_events);
  for (const Curve* c : {static_cast<const Curve*>(nullptr), &curve}) {
    g_curve = c;
    for (int subs : {1, 10}) {
      uint64_t refilled = 0;
      const double ours = OursFanOut(events, subs, &refilled);
      const double raw = RawFanOut(events, subs);
      std::printf("events to %2d subscriber%s%s %9.0f ev/s per subscriber   raw %sPUB/SUB %9.0f ev/s   ratio %.2f  (refilled %llu)\n",
                  subs, subs == 1 ? " " : "s", c ? " (CURVE)" : "        ", n_events / ours, c ? "CURVE " : "",
                  n_events / raw, raw / ours, static_cast<unsigned long long>(refilled));
    }
  }
  return 0;
}
