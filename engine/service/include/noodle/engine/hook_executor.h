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
//
// Confinement, checked for every hook of the step before the first one runs
// (a refusal fails the step with exit_code -1, a reason that names the check,
// e.g. "hook swap: /tmp/x is outside the hook roots (/opt/hooks)", and
// nothing executed):
//   - a hook's argv[0] must be an absolute path without "." or ".."
//     components whose realpath lies below the realpath of one of the hook
//     roots (component-wise, so a symlink that leads out is refused); the
//     resolved path is what is exec'd. No roots: no such hook may run.
//   - a shell hook (shell: argv[0] is a line for /bin/sh -c) runs only with
//     allow_shell, and then is not confined: it runs as this process's user.
// Signatures: when require_signatures or the component's
// artifact_require_signature is set, a forward step first verifies the
// artifact (a local path) against trusted_signers (artifact_signature.h);
// a failure fails the step naming the check, and on success
// StepOutcome.signer carries the signer's key id.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "noodle/protocol/artifact_signature.h"
#include "noodle/engine/executor.h"

namespace noodle::engine {

struct HookExecutorOptions {
  // Lines of combined stdout/stderr kept for the step events.
  size_t output_tail_lines = 20;
  // Steps run at once; more wait. Each running step holds one thread.
  size_t max_parallel_steps = 16;
  // Operator-configured directories hook programs must lie in. Empty: only
  // shell hooks (with allow_shell) can run; any other hook is refused.
  std::vector<std::string> hook_roots;
  // Runs shell lines (hook.shell) as this process's user, unconfined.
  bool allow_shell = false;
  // Every forward step's artifact must carry a valid signature by one of
  // trusted_signers (per component: artifact_require_signature).
  bool require_signatures = false;
  signing::TrustedSigners trusted_signers;
};

// The confinement check of one hook (described above), without running it:
// "" and *resolved = the program to exec when it may run; otherwise the
// refusal ("hook swap: ..."). Touches the filesystem (realpath) only.
std::string CheckHookProgram(const std::string& hook_name, const proj::Hook& hook,
                             const HookExecutorOptions& options, std::string* resolved);

// Thread-safe. The destructor waits for running steps (each bounded by its
// hooks' timeouts) and drops steps that have not started.
std::unique_ptr<Executor> NewHookExecutor(const HookExecutorOptions& options = {});

}  // namespace noodle::engine
