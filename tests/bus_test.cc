// The bus end to end: real ZeroMQ sockets on 127.0.0.1 (ports chosen by the
// OS), the real engine and log behind them.
#define BOOST_TEST_MODULE bus
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <zmq_addon.hpp>

#include "noodle/bus/client.h"
#include "noodle/bus/server.h"
#include "noodle/protocol/commands.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/protocol/reply.h"
#include "support/test_support.h"
#include "support/typed_answers.h"
#include "noodle/engine/bus_wiring.h"

using namespace noodle;

namespace {

struct BusRig {
  test::TempDir dir;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<engine::Executor> executor = engine::NewHookExecutor([] {
    engine::HookExecutorOptions o;
    o.hook_roots = {"/usr/bin"};  // the hooks here run /usr/bin/true
    return o;
  }());
  daemon::BusPublisher publisher;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<bus::Server> server;

  explicit BusRig(bus::ServerOptions so = {}) {
    store::LogOptions lo;
    lo.durability = store::Durability::kNoSync;  // speed; durability is the store tests' subject
    BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), lo, &log).ok());
    engine::EngineOptions eo;
    eo.limits.max_running = 100'000;
    BOOST_REQUIRE(engine::Engine::Open(log.get(), executor.get(), &publisher, eo, &engine).ok());
    so.command_endpoint = so.event_endpoint = so.replay_endpoint = "tcp://127.0.0.1:0";
    Status s = bus::Server::Start(so, daemon::EngineHandler(engine.get()), daemon::LogReplay(log.get()), &server);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    publisher.server = server.get();
  }
  ~BusRig() {
    publisher.server = nullptr;
    server->Stop();
    engine->Stop();
  }
  engine::Reply Call(const std::string& command) {
    std::unique_ptr<bus::CommandClient> client;
    bus::CommandClient::Connect(server->command_endpoint(), {}, &client);
    auto bytes = client->Call(command);
    BOOST_REQUIRE_MESSAGE(bytes.ok(), bytes.status().ToString());
    engine::Reply r;
    BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
    return r;
  }
  // n events through the engine directly (many commands per round), each a registration.
  void Generate(size_t n, const std::string& prefix) {
    std::vector<std::future<engine::Reply>> replies;
    for (size_t i = 0; i < n; ++i) {
      proj::Component c;
      c.name = prefix + std::to_string(i);
      c.version = "1.0.0";
      replies.push_back(engine->Submit(engine::cmd::Register(c)));
    }
    for (auto& f : replies) BOOST_REQUIRE(f.get().accepted);
  }
  std::unique_ptr<bus::EventSubscriber> Subscribe(uint64_t from, int rcvhwm = 100'000, int rcvbuf = -1) {
    bus::SubscriberOptions o;
    o.event_endpoint = server->event_endpoint();
    o.replay_endpoint = server->replay_endpoint();
    o.from_seq = from;
    o.rcvhwm = rcvhwm;
    o.rcvbuf = rcvbuf;
    std::unique_ptr<bus::EventSubscriber> sub;
    BOOST_REQUIRE(bus::EventSubscriber::Open(o, &sub).ok());
    return sub;
  }
};

// Reads until the subscriber has delivered up to `last`; checks each event
// comes once and in order. Bounded in time.
void ExpectAllInOrder(bus::EventSubscriber& sub, uint64_t from, uint64_t last) {
  uint64_t expect = from;
  for (int idle = 0; expect <= last && idle < 300;) {
    bus::ReceivedEvent ev;
    Status s = sub.Next(100, &ev);
    if (!s.ok()) {
      BOOST_REQUIRE(!s.IsCorruption());
      ++idle;
      continue;
    }
    idle = 0;
    BOOST_REQUIRE_EQUAL(ev.seq, expect);
    BOOST_REQUIRE_EQUAL(fb::GetEventEnvelope(ev.bytes.data())->seq(), expect);
    ++expect;
  }
  BOOST_TEST(expect == last + 1);
}

proj::Component Simple(const std::string& name, const std::string& version) {
  proj::Component c;
  c.name = name;
  c.version = version;
  c.hooks["swap"] = proj::Hook{{"/usr/bin/true"}, false, 5000};
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(command_reply_then_events_at_a_subscriber_in_order) {
  BusRig rig;
  auto sub = rig.Subscribe(1);
  auto reg = rig.Call(engine::cmd::Register(Simple("db", "1.4.0")));
  BOOST_TEST(reg.accepted);
  BOOST_TEST((reg.seqs == std::vector<uint64_t>{1}));
  engine::cmd::UpgradeRequest r;
  r.component = "db";
  r.target_version = "1.5.0";
  proj::Id id;
  auto up = rig.Call(engine::cmd::Upgrade(r, {}, &id));
  BOOST_TEST(up.accepted);
  BOOST_TEST((up.ids.at(0) == id));
  std::vector<std::string> types;
  for (int i = 0; i < 300 && (types.empty() || types.back() != "UpgradeCompleted"); ++i) {
    bus::ReceivedEvent ev;
    if (!sub->Next(100, &ev).ok()) continue;
    BOOST_REQUIRE_EQUAL(ev.seq, types.size() + 1);
    types.push_back(fb::EnumNameEvent(fb::GetEventEnvelope(ev.bytes.data())->event_type()));
  }
  BOOST_TEST((types == std::vector<std::string>{"ComponentRegistered", "UpgradeRequested", "UpgradeValidated",
                                                 "RollbackPointCreated", "StepStarted", "StepSucceeded", "TrafficShifted",
                                                 "UpgradeCompleted"}));

  // A rejection carries every reason
  r.target_version = "2.0.0";
  r.expected_version = "1.0.0";
  r.upgrade_id = {};
  auto rejected = rig.Call(engine::cmd::Upgrade(r));
  BOOST_TEST(!rejected.accepted);
  BOOST_TEST((rejected.code == fb::RejectCode::ValidationFailed));
  BOOST_TEST(rejected.errors.size() == 2u);

  // Queries answer from the projections, typed (queries.fbs)
  const engine::Reply reg_q = rig.Call(engine::cmd::QueryRegistry("db"));
  BOOST_TEST(test::Answer<fb::ComponentInfo>(reg_q).spec()->version()->str() == "1.5.0");
  const engine::Reply status = rig.Call(engine::cmd::QueryStatus());
  BOOST_TEST(test::Answer<fb::StatusResult>(status).history_count() == 2u);
  const engine::Reply stream = rig.Call(engine::cmd::QueryEvents(engine::UpgradeStream(id), 2, 3));
  const auto* events = test::Answer<fb::EventsResult>(stream).events();
  BOOST_REQUIRE(test::SizeOf(events) == 3u);
  BOOST_TEST(events->Get(0)->stream_version() == 2u);
  BOOST_TEST((static_cast<fb::Event>(events->Get(0)->event_type()) == fb::Event::UpgradeValidated));
  BOOST_TEST((static_cast<fb::Event>(events->Get(2)->event_type()) == fb::Event::StepStarted));
}

BOOST_AUTO_TEST_CASE(a_subscriber_joining_after_10000_events_gets_every_event_once) {
  BusRig rig;
  rig.Generate(10'000, "early-");
  const uint64_t before = rig.log->LastSeq();
  BOOST_REQUIRE(before == 10'000u);
  // Replies go out before the round's events are published: join only once
  // they were, so that every one of them has to come from the replay.
  BOOST_REQUIRE(test::WaitFor([&] { return rig.server->counters().published >= before; }, 60));
  auto sub = rig.Subscribe(1);
  ExpectAllInOrder(*sub, 1, before);
  // and then follows live
  rig.Generate(500, "late-");
  ExpectAllInOrder(*sub, before + 1, rig.log->LastSeq());
  BOOST_TEST(sub->refilled() >= before);
}

BOOST_AUTO_TEST_CASE(a_stalled_subscriber_refills_what_pub_dropped) {
  bus::ServerOptions so;
  so.event_sndhwm = 10;
  so.event_sndbuf = 4096;
  BusRig rig(so);
  auto sub = rig.Subscribe(1, /*rcvhwm=*/10, /*rcvbuf=*/4096);
  // Let the subscription reach the publisher, then stall while events pour out
  bus::ReceivedEvent ev;
  rig.Generate(1, "warmup-");
  ExpectAllInOrder(*sub, 1, 1);
  rig.Generate(10'000, "burst-");
  ExpectAllInOrder(*sub, 2, rig.log->LastSeq());
  BOOST_TEST_MESSAGE("refilled from the log: " << sub->refilled() << ", live duplicates dropped: " << sub->duplicates());
  BOOST_TEST(sub->refilled() > 0u);  // PUB did drop (tiny buffers), and the gap was filled
}

BOOST_AUTO_TEST_CASE(malformed_frames_get_errors_or_drops_and_the_daemon_keeps_serving) {
  BusRig rig;
  rig.Call(engine::cmd::Register(Simple("db", "1.4.0")));
  const std::string valid = engine::cmd::Register(Simple("cache", "1.0.0"));
  zmq::context_t ctx(1);
  std::mt19937_64 rng(42);
  auto garbage = [&](size_t n) {
    std::string g(n, '\0');
    for (auto& c : g) c = static_cast<char>(rng());
    return g;
  };
  // Unknown command type: a valid envelope whose union type is out of range
  std::string unknown;
  {
    flatbuffers::FlatBufferBuilder fbb;
    const fb::Id128 cid(7, 7);
    auto body = fb::CreatePromoteUpgrade(fbb, &cid);
    fbb.Finish(fb::CreateCommandEnvelope(fbb, &cid, 0, 0, nullptr, static_cast<fb::Command>(200), body.Union()),
               fb::CommandEnvelopeIdentifier());
    unknown.assign(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  }
  for (const std::string& endpoint : {rig.server->command_endpoint(), rig.server->replay_endpoint()}) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
    size_t sent_with_reply = 0, replies = 0;
    for (int i = 0; i < 10'000; ++i) {
      const std::string id = std::to_string(i);
      switch (i % 5) {
        case 0:  // garbage body
          s.send(zmq::buffer(id), zmq::send_flags::sndmore);
          s.send(zmq::buffer(garbage(rng() % 200)), zmq::send_flags::none);
          break;
        case 1:  // truncated FlatBuffers
          s.send(zmq::buffer(id), zmq::send_flags::sndmore);
          s.send(zmq::buffer(valid.substr(0, rng() % valid.size())), zmq::send_flags::none);
          break;
        case 2:  // wrong frame count
          s.send(zmq::buffer(id), zmq::send_flags::sndmore);
          s.send(zmq::buffer(valid), zmq::send_flags::sndmore);
          s.send(zmq::buffer(id), zmq::send_flags::none);
          break;
        case 3:  // unknown command type
          s.send(zmq::buffer(id), zmq::send_flags::sndmore);
          s.send(zmq::buffer(unknown), zmq::send_flags::none);
          break;
        case 4:  // a single frame: no request id
          s.send(zmq::buffer(garbage(1 + rng() % 50)), zmq::send_flags::none);
          break;
      }
      ++sent_with_reply;
      // Drain replies as we go (bounded wait per batch: 5 s without a reply,
      // room for a sanitizer build's slower server)
      if (i % 500 == 499) {
        for (int idle = 0; replies < sent_with_reply && idle < 500;) {
          std::vector<zmq::message_t> parts;
          if (zmq::recv_multipart(s, std::back_inserter(parts), zmq::recv_flags::dontwait)) {
            ++replies;
            idle = 0;
          } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            ++idle;
          }
        }
      }
    }
    BOOST_TEST_MESSAGE(endpoint << ": " << replies << " error replies to 10000 malformed messages");
    BOOST_TEST(replies == 10'000u);  // each one answered, none crashed the server
  }
  // Huge frame: over the size limit, ZeroMQ drops the connection
  {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(rig.server->command_endpoint());
    s.send(zmq::buffer(std::string("x")), zmq::send_flags::sndmore);
    s.send(zmq::buffer(std::string(6u << 20, 'x')), zmq::send_flags::none);
  }
  // The event endpoint takes only subscriptions: 10,000 garbage frames from an
  // XSUB peer are subscription noise to it, and a real subscriber still gets
  // every event afterwards.
  {
    zmq::socket_t x(ctx, zmq::socket_type::xsub);
    x.set(zmq::sockopt::linger, 0);
    x.connect(rig.server->event_endpoint());
    for (int i = 0; i < 10'000; ++i) {
      const std::string g = garbage(1 + rng() % 300);
      x.send(zmq::buffer(g), i % 3 == 0 ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    x.send(zmq::buffer(std::string("end")), zmq::send_flags::none);
  }
  // Raw TCP garbage at every endpoint, the PUB one included
  for (const std::string& endpoint : {rig.server->command_endpoint(), rig.server->event_endpoint(), rig.server->replay_endpoint()}) {
    const int port = std::stoi(endpoint.substr(endpoint.rfind(':') + 1));
    for (int k = 0; k < 20; ++k) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string g = garbage(512);
        (void)!write(fd, g.data(), g.size());
      }
      close(fd);
    }
  }
  // Still serving: a valid command succeeds, and counters saw the bad ones
  auto sub = rig.Subscribe(1);
  auto ok = rig.Call(valid);
  BOOST_TEST(ok.accepted);
  BOOST_TEST(rig.engine->Current().registry.find("cache") != nullptr);
  BOOST_TEST(rig.server->counters().malformed >= 2 * 2'000u + 2 * 2'000u);
  BOOST_TEST(rig.log->LastSeq() == 2u);  // nothing but the two registrations was written
  ExpectAllInOrder(*sub, 1, 2);
}
