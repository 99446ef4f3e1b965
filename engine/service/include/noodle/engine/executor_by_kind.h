// Sends each step to the executor its component declares (ComponentSpec.executor).
#pragma once

#include <map>
#include <memory>

#include "noodle/engine/executor.h"
#include "noodle/fb/common_generated.h"

namespace noodle::engine {

// The executors outlive the returned one. A step for a kind with no
// executor fails with a clear reason.
std::unique_ptr<Executor> NewExecutorByKind(std::map<fb::ExecutorKind, Executor*> executors);

}  // namespace noodle::engine
