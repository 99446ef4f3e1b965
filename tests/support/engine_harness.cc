#include "support/engine_harness.h"

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "noodle/protocol/commands.h"

namespace noodle::test {

void ScriptedExecutor::Start(const engine::StepRequest& step, std::function<void(engine::StepOutcome)> done) {
  std::lock_guard<std::mutex> lock(mu_);
  running_.push_back({step, std::move(done)});
}

void ScriptedExecutor::Abandon() {
  std::lock_guard<std::mutex> lock(mu_);
  running_.clear();  // abandoned steps never report
}

std::vector<engine::StepRequest> ScriptedExecutor::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<engine::StepRequest> out;
  for (const auto& s : running_) out.push_back(s.request);
  return out;
}

bool ScriptedExecutor::Finish(const proj::Id& upgrade, uint32_t step, const engine::StepOutcome& outcome) {
  std::function<void(engine::StepOutcome)> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(running_.begin(), running_.end(), [&](const Started& s) {
      return s.request.upgrade_id == upgrade && s.request.step == step;
    });
    if (it == running_.end()) return false;
    done = std::move(it->done);
    running_.erase(it);
  }
  done(outcome);  // outside the lock: done may push into the engine's inbox
  return true;
}

std::vector<ScriptedExecutor::Started> ScriptedExecutor::Drop() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(running_, {});
}

EngineRig::EngineRig(uint64_t snapshot_every)
    : snapshot_every_(snapshot_every), clock_(std::make_shared<std::atomic<int64_t>>(1'700'000'000'000'000'000)) {}

EngineRig::~EngineRig() { Close(); }

void EngineRig::Open() {
  store::LogOptions lo;
  lo.durability = store::Durability::kNoSync;  // crash durability is store_crash_test's; this is about folds
  lo.ballast_bytes = 0;
  Status s = store::EventLog::Open(dir_.sub("log"), lo, &log_);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  executor_ = std::make_unique<ScriptedExecutor>();
  engine::EngineOptions o;
  o.snapshot_every = snapshot_every_;
  o.snapshot_events_per_item = 0;  // at the seqs asked for, however small the state
  o.clock = [clock = clock_] { return clock->load(); };
  s = engine::Engine::Open(log_.get(), executor_.get(), nullptr, o, &engine_);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  Settle();
}

void EngineRig::Close(int grace_ms, bool late_results) {
  if (engine_ == nullptr) return;
  if (grace_ms >= 0) engine_->Stop(std::chrono::milliseconds(grace_ms));
  engine_.reset();
  auto dropped = executor_->Drop();
  if (late_results) {
    for (auto& s : dropped) s.done(Ok());
  }
  executor_.reset();
  log_.reset();
}

// Commands are decided in inbox order, and a round hands the steps it started
// to the executor before its replies go out. Queries are answered beside the
// writer, so the barrier is bytes that are no command: the writer answers
// them Invalid in its next round, after everything queued before them, and
// they write nothing.
void EngineRig::Barrier() { engine_->Execute(std::string("barrier: not a CommandEnvelope")); }

engine::Reply EngineRig::Send(const std::string& command, const Principal& who) {
  engine::Reply r = engine_->Execute(command, who);
  Barrier();
  return r;
}

void EngineRig::Settle() {
  Barrier();  // decided with what is in the inbox (and the timers due)...
  Barrier();  // ...and what that round started has reached the executor
}

void EngineRig::Advance(int64_t ns) {
  clock_->fetch_add(ns);
  Settle();
}

}  // namespace noodle::test
