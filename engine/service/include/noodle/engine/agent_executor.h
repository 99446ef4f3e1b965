// Steps of components whose executor is Agent are carried out by
// upgrade-agent processes: each sees the durable StepStarted event on the
// bus, runs the hooks on its instance and sends ReportStepResult itself.
// This executor, in the daemon, only keeps the deadline: when no agent has
// reported by the time the step's hooks could have run (the sum of their
// timeouts, plus a grace), it reports the step timed out: the agent died,
// or no agent runs that instance.
#pragma once

#include <memory>

#include "noodle/engine/executor.h"

namespace noodle::engine {

struct AgentExecutorOptions {
  int grace_ms = 1000;
};

// The destructor drops pending deadlines (their callbacks are not called).
std::unique_ptr<Executor> NewAgentExecutor(const AgentExecutorOptions& options = {});

}  // namespace noodle::engine
