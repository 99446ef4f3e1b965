// The real engine service over a real log in a temporary directory, driven
// from one test thread: a clock that only moves when the test says so, an
// executor whose steps the test ends, and barriers that make each command's
// consequences (steps handed out, timers fired) visible before the test
// looks. Used by the property tests (issue 11).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "noodle/engine/engine.h"
#include "support/test_support.h"

namespace noodle::test {

// The outcome of a step that succeeded.
inline engine::StepOutcome Ok() {
  engine::StepOutcome o;
  o.succeeded = true;
  return o;
}

// Records the steps the engine starts; the test decides how each one ends.
class ScriptedExecutor final : public engine::Executor {
 public:
  struct Started {
    engine::StepRequest request;
    std::function<void(engine::StepOutcome)> done;
  };
  void Start(const engine::StepRequest& step, std::function<void(engine::StepOutcome)> done) override;
  void Abandon() override;
  // The steps started and not finished yet, in the order they were started.
  std::vector<engine::StepRequest> Running() const;
  // Ends a running step with outcome; false when it is not running. done is
  // called on this thread, so its commands are in the engine's inbox when
  // this returns.
  bool Finish(const proj::Id& upgrade, uint32_t step, const engine::StepOutcome& outcome);
  // Forgets every running step without calling done (the engine is gone).
  // Returns their callbacks, for a test that calls them late anyway.
  std::vector<Started> Drop();

 private:
  mutable std::mutex mu_;
  std::vector<Started> running_;
};

class EngineRig {
 public:
  explicit EngineRig(uint64_t snapshot_every);
  ~EngineRig();

  // Opens the log in the directory and an engine with a fresh executor, and
  // waits for the engine's first round (its recovery).
  void Open();
  // Stops the engine (grace < 0: at once; else a graceful stop) and closes
  // the log. Steps still running are dropped (the next Open recovers them);
  // with late_results their callbacks are then called anyway, as a slow
  // executor would after the engine is gone, which must change nothing.
  void Close(int grace_ms = -1, bool late_results = false);

  // Sends command as who and waits for the reply, then for one more round so
  // that the steps the command started have reached the executor.
  engine::Reply Send(const std::string& command, const Principal& who = Principal::Local());
  // Waits until everything submitted so far (step results included) has
  // been decided and the steps it started have reached the executor.
  void Settle();
  // Moves the engine's clock on, then settles: the timers that fell due
  // have fired, and the steps they started have reached the executor.
  void Advance(int64_t ns);
  int64_t now() const { return clock_->load(); }

  store::EventLog& log() const { return *log_; }
  engine::Engine& engine() { return *engine_; }
  ScriptedExecutor& executor() { return *executor_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  void Barrier();
  TempDir dir_;
  uint64_t snapshot_every_;
  std::shared_ptr<std::atomic<int64_t>> clock_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<ScriptedExecutor> executor_;
  std::unique_ptr<engine::Engine> engine_;
};

}  // namespace noodle::test
