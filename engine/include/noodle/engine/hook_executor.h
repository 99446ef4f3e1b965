// HookExecutor: runs a component's declared hook commands as child processes.
//   swap:    prepare?, swap, health?        restart: stop?, swap, start?, health?
//   shift:   swap (with NOODLE_WEIGHT), health?
//   deploy:  prepare?   verify: health?     switch: swap, health?
//   revert:  revert if declared, else swap with NOODLE_FROM/NOODLE_TO exchanged;
//            then health? (of the old version)
// (? = when declared.) argv is exec'd directly (no shell unless the hook says
// shell); each hook has its timeout, after which its process group is killed.
// Environment: NOODLE_COMPONENT, NOODLE_FROM, NOODLE_TO, NOODLE_INSTANCE,
// NOODLE_WEIGHT, NOODLE_ACTION, NOODLE_STEP, NOODLE_UPGRADE_ID, NOODLE_REVERT.
// Before the first hook of a forward step, a local artifact (a path) with a
// declared SHA-256 is hashed; a mismatch fails the step and runs nothing.
#pragma once

#include <memory>

#include "noodle/engine/executor.h"

namespace noodle::engine {

struct HookExecutorOptions {
  // Lines of combined stdout/stderr kept for the step events.
  size_t output_tail_lines = 20;
  // Steps run at once; more wait. Each running step holds one thread.
  size_t max_parallel_steps = 16;
};

// Thread-safe. The destructor waits for running steps (each bounded by its
// hooks' timeouts) and drops steps that have not started.
std::unique_ptr<Executor> NewHookExecutor(const HookExecutorOptions& options = {});

}  // namespace noodle::engine
