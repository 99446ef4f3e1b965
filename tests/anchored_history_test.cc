// Anchored history with real upgraded and upgradectl processes, real RocksDB
// and real files: the daemon signs its chain head; a saved head exposes
// deleted newest events and a rewritten, re-chained history that the chain
// alone does not; the daemon refuses to start on a damaged log, naming the
// seq, and --inspect serves it read-only.
#define BOOST_TEST_MODULE anchored_history
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cctype>
#include <filesystem>
#include <zmq_addon.hpp>

#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"
#include "noodle/store/event_log.h"
#include "noodle/store/signed_head.h"
#include "support/daemon_process.h"
#include "support/raw_rocks.h"
#include "support/rechain.h"
#include "support/test_support.h"

using namespace noodle;

namespace {

using Daemon = test::DaemonProcess;

struct Run {
  int rc = -1;
  std::string out, err;
};

Run Program(std::vector<std::string> argv) {
  Run r;
  r.rc = test::RunProgram(argv, "", &r.out, &r.err);
  return r;
}

Run Ctl(std::vector<std::string> args) {
  args.insert(args.begin(), UPGRADECTL_PATH);
  return Program(std::move(args));
}

// upgraded started on data with extra flags, expected to refuse.
Run RefusedStart(const std::string& data, std::vector<std::string> extra = {}) {
  // timeout only keeps a daemon that wrongly starts from hanging the test.
  std::vector<std::string> argv{"/usr/bin/timeout", "60", UPGRADED_PATH, "--data-dir", data, "--commands", "tcp://127.0.0.1:0", "--events",
                                "tcp://127.0.0.1:0", "--replay", "tcp://127.0.0.1:0", "--log-level", "warn"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Program(argv);
}

// n events appended with the store itself, in batches of 5.
void WriteEvents(const std::string& data, size_t n) {
  std::filesystem::create_directories(data);
  std::filesystem::permissions(data, std::filesystem::perms::owner_all);  // the daemon wants 0700
  std::unique_ptr<store::EventLog> log;
  BOOST_REQUIRE(store::EventLog::Open(data + "/log", {}, &log).ok());
  for (size_t done = 0; done < n; done += 5) {
    store::AppendResult r;
    BOOST_REQUIRE(log->Append("component/c" + std::to_string(done), store::kAnyVersion,
                              test::MakeEvents("component/c" + std::to_string(done), std::min<size_t>(5, n - done)), &r)
                      .ok());
  }
}

std::unique_ptr<store::EventLog> ReadOnly(const std::string& data) {
  store::LogOptions o;
  o.mode = store::OpenMode::kReadOnly;
  std::unique_ptr<store::EventLog> log;
  BOOST_REQUIRE(store::EventLog::Open(data + "/log", o, &log).ok());
  return log;
}

// The daemon's head file, verified with its head.pub.
store::SignedHeadInfo DaemonHead(const std::string& data) {
  auto bytes = store::ReadWholeFile(data + "/head.signed");
  BOOST_REQUIRE_MESSAGE(bytes.ok(), bytes.status().ToString());
  auto pub = store::LoadPublicKey(data + "/head.pub");
  BOOST_REQUIRE(pub.ok());
  store::SignedHeadInfo h;
  BOOST_REQUIRE(store::VerifySignedHead(bytes.value(), &pub.value(), &h).ok());
  return h;
}

unsigned Mode(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

bool Contains(const std::string& text, const std::string& part) {
  BOOST_TEST_MESSAGE("looking for \"" << part << "\" in: " << text);
  return text.find(part) != std::string::npos;
}

// A log of n events anchored by one daemon run, and a head saved from it
// over the replay endpoint (what an auditor keeps elsewhere).
void AnchoredLog(const std::string& data, size_t n, const std::string& saved_head) {
  WriteEvents(data, n);
  Daemon d = Daemon::Start(UPGRADED_PATH, data);
  const Run save = Ctl({"audit", "head", "save", saved_head, "--replay", d.replay});
  BOOST_TEST(save.rc == 0, save.out << save.err);
  BOOST_TEST(Contains(save.out, "seq " + std::to_string(n)));
  const int status = d.Stop(SIGTERM);
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_daemon_signs_its_head_at_start_every_n_events_and_on_stop) {
  test::TempDir dir;
  const std::string data = dir.sub("data");
  WriteEvents(data, 10);
  Daemon d = Daemon::Start(UPGRADED_PATH, data,
                           {"--sign-head-every", "3", "--sign-head-seconds", "3600", "--verify-checkpoint-every", "5"});
  BOOST_TEST(Mode(data + "/head.key") == 0600u);
  BOOST_TEST(Mode(data + "/head.signed") == 0600u);
  BOOST_TEST(Mode(data + "/head.pub") == 0644u);
  BOOST_TEST(DaemonHead(data).seq == 10u);  // signed before serving

  bus::CommandClientOptions co;
  std::unique_ptr<bus::CommandClient> client;
  BOOST_REQUIRE(bus::CommandClient::Connect(d.commands, co, &client).ok());
  for (int i = 0; i < 6; ++i) {
    proj::Component c;
    c.name = "svc-" + std::to_string(i);
    c.version = "1.0.0";
    auto bytes = client->Call(engine::cmd::Register(c, {{0xA0, static_cast<uint64_t>(i + 1)}, 0, "test"}));
    BOOST_REQUIRE(bytes.ok());
    engine::Reply r;
    BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
    BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
  }
  // The hour-long period cannot be what signs: the event count does. The
  // bound only keeps a broken build from hanging.
  BOOST_TEST(test::WaitFor([&] { return DaemonHead(data).seq >= 13; }, 60));

  // The daemon serves its newest head over the replay endpoint.
  std::string served;
  BOOST_REQUIRE(bus::FetchHead(d.replay, &served).ok());
  store::SignedHeadInfo h;
  BOOST_REQUIRE(store::VerifySignedHead(served, nullptr, &h).ok());
  BOOST_TEST(h.seq >= 13u);
  BOOST_TEST(h.key_id == DaemonHead(data).key_id);

  BOOST_REQUIRE(d.Stop(SIGTERM) == 0);
  auto log = ReadOnly(data);
  BOOST_TEST(log->LastSeq() == 16u);
  BOOST_TEST(DaemonHead(data).seq == 16u);  // the final head
  // Verified at start up to 10, then the daemon's own events: the checkpoint
  // follows them at multiples of 5, never past what was written.
  auto cp = log->GetCheckpoint("chain-verified");
  BOOST_REQUIRE(cp.ok());
  BOOST_TEST(cp.value() == 15u);
}

BOOST_AUTO_TEST_CASE(new_heads_are_published_on_the_event_endpoint) {
  test::TempDir dir;
  const std::string data = dir.sub("data");
  Daemon d = Daemon::Start(UPGRADED_PATH, data, {"--sign-head-every", "1", "--sign-head-seconds", "3600"});
  zmq::context_t ctx(1);
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  sub.set(zmq::sockopt::subscribe, "$head");
  sub.set(zmq::sockopt::rcvtimeo, 200);
  sub.connect(d.events);
  bus::CommandClientOptions co;
  std::unique_ptr<bus::CommandClient> client;
  BOOST_REQUIRE(bus::CommandClient::Connect(d.commands, co, &client).ok());
  // PUB drops what it sends before the subscription arrives: register until
  // a head comes (the bound only keeps a broken build from hanging).
  std::vector<zmq::message_t> parts;
  int i = 0;
  const bool got = test::WaitFor([&] {
    proj::Component c;
    c.name = "svc-" + std::to_string(i++);
    c.version = "1.0.0";
    BOOST_REQUIRE(client->Call(engine::cmd::Register(c)).ok());
    parts.clear();
    return zmq::recv_multipart(sub, std::back_inserter(parts)).has_value();
  }, 60);
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(parts.size() == 2u);
  BOOST_TEST(parts[0].to_string() == "$head");
  store::SignedHeadInfo h;
  auto pub = store::LoadPublicKey(data + "/head.pub");
  BOOST_REQUIRE(pub.ok());
  BOOST_REQUIRE(store::VerifySignedHead(parts[1].to_string(), &pub.value(), &h).ok());
  BOOST_TEST(h.seq >= 1u);
}

BOOST_AUTO_TEST_CASE(a_saved_head_exposes_deleted_newest_events) {
  test::TempDir dir;
  const std::string data = dir.sub("data"), saved = dir.sub("saved.head");
  AnchoredLog(data, 20, saved);
  const Run holds = Ctl({"audit", "verify", "--data-dir", data, "--against", saved});
  BOOST_TEST(holds.rc == 0, holds.out << holds.err);
  BOOST_TEST(Contains(holds.out, "saved head holds"));

  {
    test::RawLog raw(data + "/log");
    for (uint64_t seq : {18, 19, 20}) raw.Delete(seq);
  }
  // The chain alone still holds: nothing in it says there were 20 events.
  const Run chain_only = Ctl({"audit", "verify", "--data-dir", data});
  BOOST_TEST(chain_only.rc == 0, chain_only.out << chain_only.err);

  const Run against = Ctl({"audit", "verify", "--data-dir", data, "--against", saved});
  BOOST_TEST(against.rc == 4, against.out << against.err);
  BOOST_TEST(Contains(against.out, "truncated: the log ends at seq 17, below the saved head at seq 20"));

  const Run start = RefusedStart(data);
  BOOST_TEST(start.rc == 4, start.err);
  BOOST_TEST(Contains(start.err, "damaged at seq 18: log ends at seq 17, below the signed head at seq 20 (events deleted)"));
}

BOOST_AUTO_TEST_CASE(a_saved_head_exposes_a_rewritten_and_rechained_history) {
  test::TempDir dir;
  const std::string data = dir.sub("data"), saved = dir.sub("saved.head");
  AnchoredLog(data, 20, saved);
  test::RewriteAndRechain(data + "/log", 5, 20, [](fb::EventEnvelope* env) {
    auto* payload = static_cast<fb::ComponentDeregistered*>(env->mutable_event());
    auto* name = payload->mutable_name();  // "component-under-test"
    for (size_t i = 16; i < name->size(); ++i) name->Mutate(i, static_cast<char>(std::toupper(name->Get(i))));
  });
  {
    auto log = ReadOnly(data);
    auto ev = log->Read(5);
    BOOST_REQUIRE(ev.ok());
    BOOST_TEST(ev->envelope()->event_as_ComponentDeregistered()->name()->str() == "component-under-TEST");
  }
  const Run chain_only = Ctl({"audit", "verify", "--data-dir", data});
  BOOST_TEST(chain_only.rc == 0, chain_only.out << chain_only.err);  // re-chained: the chain holds

  const Run against = Ctl({"audit", "verify", "--data-dir", data, "--against", saved});
  BOOST_TEST(against.rc == 4, against.out << against.err);
  BOOST_TEST(Contains(against.out, "rewritten: event 20's hash differs from the saved head"));

  const Run start = RefusedStart(data);
  BOOST_TEST(start.rc == 4, start.err);
  BOOST_TEST(Contains(start.err, "damaged at seq 20: event 20's hash differs from the signed head"));

  // Over the bus too, from a daemon inspecting the log read-only.
  Daemon inspect = Daemon::Start(UPGRADED_PATH, data, {"--inspect"});
  const Run live = Ctl({"audit", "verify", "--replay", inspect.replay, "--against", saved});
  BOOST_TEST(live.rc == 4, live.out << live.err);
  BOOST_TEST(Contains(live.out, "rewritten: event 20's hash differs from the saved head"));
}

BOOST_AUTO_TEST_CASE(a_flipped_byte_stops_the_daemon_and_inspect_serves_the_log_read_only) {
  test::TempDir dir;
  const std::string data = dir.sub("data"), saved = dir.sub("saved.head");
  AnchoredLog(data, 20, saved);
  const Run tamper = Program({LOG_TAMPER_PATH, data + "/log", "7"});
  BOOST_REQUIRE_MESSAGE(tamper.rc == 0, tamper.err);

  const Run start = RefusedStart(data);
  BOOST_TEST(start.rc == 4, start.err);
  BOOST_TEST(Contains(start.err, "damaged at seq 7"));
  BOOST_TEST(Contains(start.err, "--inspect"));

  const auto head_before = store::ReadWholeFile(data + "/head.signed");
  BOOST_REQUIRE(head_before.ok());
  Daemon d = Daemon::Start(UPGRADED_PATH, data, {"--inspect"});
  // Replay serves what verifies.
  std::vector<std::string> events;
  uint64_t last = 0;
  BOOST_REQUIRE(bus::FetchReplay(d.replay, 1, 6, 100, &events, &last).ok());
  BOOST_TEST(events.size() == 6u);
  BOOST_TEST(last == 20u);
  // Commands are refused, saying why.
  bus::CommandClientOptions co;
  co.retries = 0;
  std::unique_ptr<bus::CommandClient> client;
  BOOST_REQUIRE(bus::CommandClient::Connect(d.commands, co, &client).ok());
  proj::Component c;
  c.name = "svc";
  c.version = "1.0.0";
  auto bytes = client->Call(engine::cmd::Register(c));
  BOOST_REQUIRE(bytes.ok());
  engine::Reply r;
  BOOST_REQUIRE(engine::DecodeReply(bytes.value(), &r).ok());
  BOOST_TEST(!r.accepted);
  BOOST_TEST((r.code == fb::RejectCode::Unavailable));
  BOOST_TEST(Contains(r.message, "read-only inspection: the log is damaged at seq 7"));
  BOOST_TEST(d.Stop(SIGTERM) == 0);
  // Inspection wrote nothing.
  BOOST_TEST(ReadOnly(data)->LastSeq() == 20u);
  BOOST_TEST(store::ReadWholeFile(data + "/head.signed").value() == head_before.value());
}

BOOST_AUTO_TEST_CASE(a_missing_event_stops_the_daemon_naming_its_seq) {
  test::TempDir dir;
  const std::string data = dir.sub("data"), saved = dir.sub("saved.head");
  AnchoredLog(data, 20, saved);
  {
    test::RawLog raw(data + "/log");
    raw.Delete(9);
  }
  const Run start = RefusedStart(data);
  BOOST_TEST(start.rc == 4, start.err);
  BOOST_TEST(Contains(start.err, "damaged at seq 9: missing event"));
  const Run against = Ctl({"audit", "verify", "--data-dir", data, "--against", saved});
  BOOST_TEST(against.rc == 4, against.out);
  BOOST_TEST(Contains(against.out, "CHAIN BROKEN at seq 9"));
}

BOOST_AUTO_TEST_CASE(a_head_signed_by_another_key_stops_the_daemon) {
  test::TempDir dir;
  const std::string data = dir.sub("data"), saved = dir.sub("saved.head");
  AnchoredLog(data, 10, saved);
  const auto old_key = store::LoadPublicKey(data + "/head.pub");
  BOOST_REQUIRE(old_key.ok());
  // Whoever replaces the key cannot re-sign the old head with it.
  std::filesystem::remove(data + "/head.key");
  std::filesystem::remove(data + "/head.pub");
  const Run start = RefusedStart(data);
  BOOST_TEST(start.rc == 4, start.err);
  BOOST_TEST(Contains(start.err, "head.key is missing, yet a head was signed"));
  // An auditor who pinned the old key still accepts the saved head.
  {
    const std::string pinned = dir.sub("pinned.pub");
    BOOST_REQUIRE(store::WriteFileAtomic(pinned, store::ToHex(old_key.value().data(), 32) + "\n", 0644).ok());
    const Run ok = Ctl({"audit", "verify", "--data-dir", data, "--against", saved, "--head-key", pinned});
    BOOST_TEST(ok.rc == 0, ok.out << ok.err);
    std::filesystem::create_directories(dir.sub("other"));
    BOOST_REQUIRE(store::HeadKey::LoadOrCreate(dir.sub("other")).ok());
    const Run wrong = Ctl({"audit", "verify", "--data-dir", data, "--against", saved, "--head-key", dir.sub("other/head.pub")});
    BOOST_TEST(wrong.rc == 4, wrong.out << wrong.err);
    BOOST_TEST(Contains(wrong.out, "not by the expected key"));
  }
}

BOOST_AUTO_TEST_CASE(a_deleted_head_file_stops_the_daemon) {
  test::TempDir dir;
  const std::string data = dir.sub("data"), saved = dir.sub("saved.head");
  AnchoredLog(data, 10, saved);
  // Without its head, nothing would anchor the log at start: refused.
  std::filesystem::remove(data + "/head.signed");
  const Run start = RefusedStart(data);
  BOOST_TEST(start.rc == 4, start.err);
  BOOST_TEST(Contains(start.err, "head.signed is missing, yet a head was signed"));
}
