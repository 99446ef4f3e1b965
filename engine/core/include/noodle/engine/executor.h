// Executors perform the steps the decider starts (StepStarted) and report
// back. The engine turns each outcome into ReportHealth / ReportStepResult
// commands, so results go through the decider and the log like anything else.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "noodle/projections/component.h"
#include "noodle/projections/status.h"

namespace noodle::engine {

struct StepRequest {
  proj::Id upgrade_id;
  uint32_t step = 0;      // as in StepStarted
  bool revert = false;    // undo the plan step (go back to `from`)
  // Unspecified: an action this build does not know (a newer engine planned
  // it); executors fail such a step rather than guess.
  fb::StepAction action = fb::StepAction::Unspecified;
  std::string instance;   // empty: the component as a whole
  uint8_t weight = 0;     // traffic share on the new version after the step
  proj::Component from;   // the component as registered now
  proj::Component to;     // the component as it will be after the upgrade
};

// How a step ended, as an executor saw it. Carried whole from the executor
// through the ReportStepResult command to the decider (RecordStepResult).
struct StepOutcome {
  bool succeeded = false;
  bool timed_out = false;
  int32_t exit_code = 0;
  std::string reason;       // one line when it failed
  std::string output_tail;  // last lines of output
  int64_t duration_ns = 0;
  bool health_checked = false;  // a health check ran as part of the step
  bool healthy = false;
  std::string health_detail;
  // Key id of the trusted signer whose artifact signature was verified
  // before the step ran; empty when no signature was checked.
  std::string signer;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Starts the step and returns promptly. Calls done exactly once, from any
  // thread, unless the executor is destroyed first (its destructor waits for
  // or abandons running steps, and then never calls done).
  virtual void Start(const StepRequest& step, std::function<void(StepOutcome)> done) = 0;

  // For a stop whose grace period has ended: ends the running steps now
  // (kills their process groups), drops the queued ones, and never calls
  // their done. Steps started afterwards are dropped too. Any thread.
  virtual void Abandon() {}
};

// Receives events once they are durable (the daemon wires it to the bus).
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // Called from the engine's writer thread, in seq order; must not block long.
  virtual void Publish(const std::vector<std::string>& events) = 0;
};

}  // namespace noodle::engine
