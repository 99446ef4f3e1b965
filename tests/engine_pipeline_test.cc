// The writer's pipeline on a real RocksDB log: the engine decides a round
// while the round before it is being appended. A gate in front of the real
// log (support/gated_log.h) holds an append so that the next round is
// decided behind it, then lets it through or fails it as a full disk does.
#define BOOST_TEST_MODULE engine_pipeline
#include <boost/test/unit_test.hpp>

#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "noodle/engine/engine.h"
#include "noodle/engine/hook_executor.h"
#include "noodle/envelope.h"
#include "noodle/protocol/commands.h"
#include "support/gated_log.h"
#include "support/test_support.h"

using namespace noodle;
using engine::cmd::UpgradeRequest;

namespace {

// What the engine published, in the order it published it.
class RecordingPublisher final : public engine::EventPublisher {
 public:
  void Publish(const std::vector<std::string>& events) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& bytes : events) seqs_.push_back(fb::GetEventEnvelope(bytes.data())->seq());
  }
  // The seqs published after `after`.
  std::vector<uint64_t> Seqs(uint64_t after) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<uint64_t> out;
    for (uint64_t seq : seqs_) {
      if (seq > after) out.push_back(seq);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<uint64_t> seqs_;
};

struct Rig {
  test::TempDir dir;
  RecordingPublisher published;
  std::unique_ptr<store::EventLog> real;
  std::unique_ptr<test::GatedLog> gate;
  std::unique_ptr<engine::Executor> executor;  // null: steps are started and never run
  std::unique_ptr<engine::Engine> engine;

  explicit Rig(bool run_steps = false) {
    BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &real).ok());
    gate = std::make_unique<test::GatedLog>(real.get());
    if (run_steps) executor = engine::NewHookExecutor();
    Status s = engine::Engine::Open(gate.get(), executor.get(), &published, {}, &engine);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    for (const char* name : {"alpha", "beta", "gamma"}) {
      proj::Component c;
      c.name = name;
      c.version = "1.0.0";
      c.hooks["swap"] = proj::Hook{{"/bin/true"}, false, 1000};
      const auto r = engine->Execute(engine::cmd::Register(c));
      BOOST_REQUIRE_MESSAGE(r.accepted, r.message);
    }
  }
  ~Rig() { gate->Release(); }

  // A RequestUpgrade of component to 1.1.0 under a command id of its own.
  static std::string Upgrade(const std::string& component, proj::Id* upgrade_id, proj::Id* command_id) {
    const fb::Id128 cid = NewId();
    *command_id = proj::Id::From(&cid);
    UpgradeRequest r;
    r.component = component;
    r.target_version = "1.1.0";
    engine::cmd::Meta m;
    m.command_id = *command_id;
    return engine::cmd::Upgrade(r, m, upgrade_id);
  }
  static std::string Stream(const proj::Id& upgrade_id) { return "upgrade/" + upgrade_id.hex(); }

  // The seqs of the events a command caused, read from the log.
  std::vector<uint64_t> CausedBy(const proj::Id& command_id) const {
    std::vector<uint64_t> seqs;
    for (auto it = real->Scan(1); it->Valid(); it->Next()) {
      if (proj::Id::From(it->envelope()->causation_id()) == command_id) seqs.push_back(it->seq());
    }
    return seqs;
  }
  // The engine's state is the one the log rebuilds.
  void CheckStateIsTheLogs() {
    auto rebuilt = engine->StateAt(real->LastSeq());
    BOOST_REQUIRE(rebuilt.ok());
    BOOST_CHECK(engine->Current() == rebuilt.value());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_round_decided_behind_one_that_fails_is_decided_again_and_nothing_of_either_is_kept) {
  // Given an upgrade of alpha held at the log's gate
  Rig rig;
  const uint64_t before = rig.real->LastSeq();
  rig.gate->Hold();
  proj::Id up_a, cmd_a, up_b, cmd_b;
  const std::string a = Rig::Upgrade("alpha", &up_a, &cmd_a);
  auto first = rig.engine->Submit(a);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->AppendWaiting(); }));
  // and an upgrade of beta decided behind it (the engine asks the log for its new stream)
  const std::string b = Rig::Upgrade("beta", &up_b, &cmd_b);
  auto second = rig.engine->Submit(b);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->Asked(Rig::Stream(up_b)); }));

  // When alpha's append fails as on a full disk, and the disk has room again at once
  rig.gate->FailHeld("disk full: test");
  const engine::Reply ra = first.get(), rb = second.get();

  // Then neither is acknowledged (beta is decided again, against a log that
  // failed), nothing is stored, and the state holds neither
  BOOST_CHECK(!ra.accepted);
  BOOST_CHECK(ra.code == fb::RejectCode::Unavailable);
  BOOST_CHECK_MESSAGE(!rb.accepted, "beta was decided on top of alpha's unstored events: " + rb.message);
  BOOST_CHECK(rb.code == fb::RejectCode::Unavailable);
  BOOST_CHECK_EQUAL(rig.real->LastSeq(), before);
  BOOST_CHECK(rig.engine->Current().status.upgrades.empty());
  rig.CheckStateIsTheLogs();

  // And the same commands sent again are accepted, each stored once
  engine::Reply ra2, rb2;
  BOOST_REQUIRE(test::WaitFor([&] {
    ra2 = rig.engine->Execute(a);
    return ra2.accepted;
  }));
  rb2 = rig.engine->Execute(b);
  BOOST_REQUIRE_MESSAGE(rb2.accepted, rb2.message);
  BOOST_CHECK(rig.CausedBy(cmd_a) == ra2.seqs);
  BOOST_CHECK(rig.CausedBy(cmd_b) == rb2.seqs);
  BOOST_CHECK(rig.engine->Current().status.find(up_a) != nullptr);
  BOOST_CHECK(rig.engine->Current().status.find(up_b) != nullptr);
  rig.CheckStateIsTheLogs();
}

BOOST_AUTO_TEST_CASE(a_stored_round_is_answered_and_published_while_the_next_is_being_stored_and_nothing_sooner) {
  // Given an upgrade of alpha held at the log's gate, and one of beta decided behind it
  Rig rig;
  const uint64_t before = rig.real->LastSeq();
  rig.gate->Hold();
  proj::Id up_a, cmd_a, up_b, cmd_b;
  auto first = rig.engine->Submit(Rig::Upgrade("alpha", &up_a, &cmd_a));
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->AppendWaiting(); }));
  auto second = rig.engine->Submit(Rig::Upgrade("beta", &up_b, &cmd_b));
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->Asked(Rig::Stream(up_b)); }));
  BOOST_CHECK(rig.published.Seqs(before).empty());

  // When alpha's round is stored and beta's is held at the gate in its turn
  rig.gate->PassOne();
  const engine::Reply ra = first.get();
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->AppendWaiting(); }));

  // Then alpha is answered and published while beta waits, and nothing of beta is shown
  BOOST_REQUIRE_MESSAGE(ra.accepted, ra.message);
  BOOST_CHECK(rig.CausedBy(cmd_a) == ra.seqs);
  BOOST_CHECK(rig.CausedBy(cmd_b).empty());
  BOOST_CHECK(second.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready);
  std::vector<uint64_t> shown = rig.published.Seqs(before);
  BOOST_CHECK(shown == ra.seqs);

  // And once beta is stored, every stored event was published once, in seq order
  rig.gate->Release();
  const engine::Reply rb = second.get();
  BOOST_REQUIRE_MESSAGE(rb.accepted, rb.message);
  BOOST_CHECK(rig.CausedBy(cmd_b) == rb.seqs);
  shown = rig.published.Seqs(before);
  std::vector<uint64_t> stored;
  for (uint64_t seq = before + 1; seq <= rig.real->LastSeq(); ++seq) stored.push_back(seq);
  BOOST_CHECK(shown == stored);
  rig.CheckStateIsTheLogs();
}

BOOST_AUTO_TEST_CASE(retries_of_a_command_being_stored_get_its_answer_and_store_nothing_twice) {
  // Given an upgrade of alpha held at the log's gate
  Rig rig;
  rig.gate->Hold();
  proj::Id up_a, cmd_a, up_c, cmd_c;
  const std::string a = Rig::Upgrade("alpha", &up_a, &cmd_a);
  auto original = rig.engine->Submit(a);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->AppendWaiting(); }));

  // When it is sent twice more, then another command, all decided behind it
  auto retry1 = rig.engine->Submit(a);
  auto retry2 = rig.engine->Submit(a);
  const std::string c = Rig::Upgrade("gamma", &up_c, &cmd_c);
  auto other = rig.engine->Submit(c);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->Asked(Rig::Stream(up_c)); }));
  rig.gate->Release();

  // Then every copy gets the original's answer, and its events are stored once
  const engine::Reply r0 = original.get(), r1 = retry1.get(), r2 = retry2.get(), rc = other.get();
  BOOST_REQUIRE_MESSAGE(r0.accepted, r0.message);
  BOOST_CHECK_MESSAGE(r1.accepted, r1.message);
  BOOST_CHECK_MESSAGE(r2.accepted, r2.message);
  BOOST_CHECK(!r0.seqs.empty());
  BOOST_CHECK(r1.seqs == r0.seqs);
  BOOST_CHECK(r2.seqs == r0.seqs);
  BOOST_CHECK(r1.ids == r0.ids);
  BOOST_CHECK(rig.CausedBy(cmd_a) == r0.seqs);
  BOOST_REQUIRE_MESSAGE(rc.accepted, rc.message);
  BOOST_CHECK(rig.CausedBy(cmd_c) == rc.seqs);
  rig.CheckStateIsTheLogs();
}

BOOST_AUTO_TEST_CASE(a_retry_in_the_same_round_as_its_original_gets_the_original_answer) {
  // Given the log held, so that the commands below gather into one round
  Rig rig;
  rig.gate->Hold();
  proj::Id up_b, cmd_b, up_x, cmd_x;
  // (a first round, to hold the writer at the gate)
  auto opener = rig.engine->Submit(Rig::Upgrade("gamma", &up_x, &cmd_x));
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->AppendWaiting(); }));
  const std::string b = Rig::Upgrade("beta", &up_b, &cmd_b);

  // When a command and its retry arrive back to back
  auto original = rig.engine->Submit(b);
  auto retry = rig.engine->Submit(b);
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->Asked(Rig::Stream(up_b)); }));
  rig.gate->Release();

  // Then both are accepted with the same events, stored once
  const engine::Reply r0 = original.get(), r1 = retry.get();
  BOOST_REQUIRE(opener.get().accepted);
  BOOST_REQUIRE_MESSAGE(r0.accepted, r0.message);
  BOOST_CHECK_MESSAGE(r1.accepted, r1.message);
  BOOST_CHECK(r1.seqs == r0.seqs);
  BOOST_CHECK(rig.CausedBy(cmd_b) == r0.seqs);
  rig.CheckStateIsTheLogs();
}

BOOST_AUTO_TEST_CASE(a_stop_while_a_round_is_being_stored_answers_every_command_once) {
  // Given an upgrade held at the log's gate, a full round decided behind it
  // that starts a step (dispatched while the engine stops), and commands
  // still queued behind that round
  Rig rig(/*run_steps=*/true);
  rig.gate->Hold();
  proj::Id up_a, cmd_a, up_b, cmd_b;
  std::vector<std::future<engine::Reply>> replies;
  replies.push_back(rig.engine->Submit(Rig::Upgrade("alpha", &up_a, &cmd_a)));
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->AppendWaiting(); }));
  const size_t round = engine::EngineOptions{}.max_round_commands;
  for (size_t i = 0; i < round + 700; ++i) {
    if (i == round - 1) {
      replies.push_back(rig.engine->Submit(Rig::Upgrade("beta", &up_b, &cmd_b)));
      continue;
    }
    proj::Component c;
    c.name = "extra-" + std::to_string(i);
    c.version = "1.0.0";
    replies.push_back(rig.engine->Submit(engine::cmd::Register(c)));
  }
  BOOST_REQUIRE(test::WaitFor([&] { return rig.gate->Asked(Rig::Stream(up_b)); }));

  // When the engine stops (a command sent after that is refused at once),
  // and only then the held append goes through
  std::thread stopper([&] { rig.engine->Stop(); });
  BOOST_REQUIRE(test::WaitFor([&] {
    proj::Component probe;
    probe.name = "probe-" + std::to_string(replies.size());
    probe.version = "1.0.0";
    replies.push_back(rig.engine->Submit(engine::cmd::Register(probe)));
    return replies.back().wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }));
  rig.gate->Release();
  stopper.join();

  // Then every command has exactly one answer (get() throws on a dropped
  // one), what was acknowledged is in the log, and the rest was refused
  size_t accepted = 0, refused = 0;
  for (auto& f : replies) {
    const engine::Reply r = f.get();
    if (r.accepted) {
      ++accepted;
      BOOST_CHECK(!r.seqs.empty() && r.seqs.back() <= rig.real->LastSeq());
    } else {
      ++refused;
      BOOST_CHECK_MESSAGE(r.message == "engine stopped", r.message);
    }
  }
  BOOST_CHECK(rig.CausedBy(cmd_a).size() > 0);
  BOOST_CHECK(refused > 0);  // the commands still queued at the stop
  BOOST_TEST_MESSAGE(accepted << " accepted, " << refused << " refused at the stop");
}
