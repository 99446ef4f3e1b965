#include "noodle/engine/hook_executor.h"
#include "noodle/engine/trusted_path.h"

#include "noodle/protocol/file_hash.h"
#include "noodle/engine/names.h"
#include "noodle/projections/status.h"
#include "step_workers.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <mutex>
#include <set>
#include <cstdlib>
#include <cstring>
#include <vector>

extern char** environ;

namespace noodle::engine {
namespace {

using Clock = std::chrono::steady_clock;

struct HookRun {
  bool ran = false;  // false: the hook is not declared
  bool ok = false;
  bool timed_out = false;
  int exit_code = 0;
  std::string tail;
  std::string failure;  // "exit code 3", "timed out after 100 ms", "could not start: ..."
};

std::string Tail(const std::string& out, size_t lines) {
  size_t pos = out.size();
  if (pos > 0 && out[pos - 1] == '\n') --pos;
  for (size_t n = 0; pos > 0; --pos) {
    if (out[pos - 1] == '\n' && ++n == lines) break;
  }
  std::string t = out.substr(pos);
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.size() > 4096 ? t.substr(t.size() - 4096) : t;
}

// The process groups of the hooks running now, so a stop whose grace period
// has ended can end them (and whatever they started) at once.
class ProcessGroups {
 public:
  // False when the executor was abandoned: the caller kills the group.
  bool Add(pid_t group) {
    std::lock_guard<std::mutex> lock(mu_);
    if (abandoned_) return false;
    groups_.insert(group);
    return true;
  }
  void Remove(pid_t group) {
    std::lock_guard<std::mutex> lock(mu_);
    groups_.erase(group);
  }
  void KillAll() {
    std::lock_guard<std::mutex> lock(mu_);
    abandoned_ = true;
    for (pid_t g : groups_) kill(-g, SIGKILL);
  }

 private:
  std::mutex mu_;
  std::set<pid_t> groups_;
  bool abandoned_ = false;
};

// The environment of a hook: ours without NOODLE_* (a hook sees only the
// step's), then the step's.
std::vector<std::string> HookEnvironment(const std::vector<std::string>& step_env) {
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "NOODLE_", 7) != 0) envs.emplace_back(*e);
  }
  envs.insert(envs.end(), step_env.begin(), step_env.end());
  return envs;
}

// Starts program with argv and env in a process group of its own, stdout and
// stderr to out_fd, stdin from /dev/null. Returns its pid, or 0 with errno's
// code in *error.
pid_t Spawn(const std::string& program, std::vector<std::string> argv, std::vector<std::string> env, int out_fd,
            int* error) {
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group, so a timeout kills its children too
  pid_t pid = 0;
  // posix_spawn, not spawnp: no PATH search; the checked path is what runs.
  *error = posix_spawn(&pid, program.c_str(), &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return *error == 0 ? pid : 0;
}

// Reads fd until every writer closed it or the deadline passed (*timed_out).
std::string ReadUntil(int fd, Clock::time_point deadline, bool* timed_out) {
  std::string out;
  char buf[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      *timed_out = true;
      return out;
    }
    pollfd p{fd, POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n <= 0) continue;  // EINTR or nothing yet: the deadline decides
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;  // a signal (e.g. SIGCHLD) is not the end
    if (got <= 0) return out;  // EOF: every writer closed
    out.append(buf, static_cast<size_t>(got));
    if (out.size() > (1u << 20)) out.erase(0, out.size() - (1u << 19));  // keep memory bounded
  }
}

// How the hook's process ended, into r.
void Classify(const proj::Hook& hook, int status, HookRun& r) {
  if (r.timed_out) {
    r.exit_code = -1;
    r.failure = "timed out after " + std::to_string(hook.timeout_ms) + " ms";
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    r.ok = r.exit_code == 0;
    if (!r.ok) r.failure = "exit code " + std::to_string(r.exit_code);
  } else {
    r.exit_code = 128 + WTERMSIG(status);
    r.failure = std::string("killed by signal ") + strsignal(WTERMSIG(status));
  }
}

// program: the path to exec, as CheckHookProgram resolved it.
HookRun RunHook(const proj::Hook* hook, const std::string& program, const std::vector<std::string>& env,
                size_t tail_lines, ProcessGroups* groups) {
  HookRun r;
  if (hook == nullptr) return r;
  r.ran = true;
  std::vector<std::string> argv = hook->shell ? std::vector<std::string>{"/bin/sh", "-c", hook->argv.at(0)} : hook->argv;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    r.failure = std::string("could not start: pipe: ") + std::strerror(errno);
    return r;
  }
  int error = 0;
  const std::string argv0 = argv[0];
  const pid_t pid = Spawn(program, std::move(argv), HookEnvironment(env), fds[1], &error);
  close(fds[1]);
  if (pid == 0) {
    close(fds[0]);
    r.failure = "could not start " + argv0 + ": " + std::strerror(error);
    r.exit_code = 127;
    return r;
  }
  if (!groups->Add(pid)) kill(-pid, SIGKILL);
  const std::string out = ReadUntil(fds[0], Clock::now() + std::chrono::milliseconds(hook->timeout_ms), &r.timed_out);
  close(fds[0]);
  if (r.timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  groups->Remove(pid);
  r.tail = Tail(out, tail_lines);
  Classify(*hook, status, r);
  return r;
}

std::string RootList(const std::vector<std::string>& roots) {
  std::string out;
  for (const auto& r : roots) out += (out.empty() ? "" : ", ") + r;
  return out;
}

// A forward step's artifact against the signature policy: "" when it may
// go on (signer set when a signature verified), else the refusal.
std::string CheckSignature(const proj::Component& spec, const std::string& loc, const HookExecutorOptions& options,
                           std::string* signer) {
  if (!options.require_signatures && !spec.artifact_require_signature) return "";
  if (loc.empty() || !loc.starts_with("/")) {
    return "signature check: a signature is required but the artifact location '" + names::Printable(loc) +
           "' is not a local file";
  }
  auto verified = signing::VerifyArtifact(loc, options.trusted_signers, spec.artifact_sha256);
  if (!verified.ok()) return "signature check: " + verified.status().message();
  *signer = verified.value();
  return "";
}

std::vector<std::string> StepEnvironment(const StepRequest& step) {
  const bool revert = step.revert;
  return {
      "NOODLE_COMPONENT=" + step.to.name,
      "NOODLE_FROM=" + (revert ? step.to.version : step.from.version),
      "NOODLE_TO=" + (revert ? step.from.version : step.to.version),
      "NOODLE_INSTANCE=" + step.instance,
      "NOODLE_WEIGHT=" + std::to_string(revert ? 0 : step.weight),
      "NOODLE_ACTION=" + std::string(proj::StepActionName(step.action)),
      "NOODLE_STEP=" + std::to_string(step.step),
      "NOODLE_UPGRADE_ID=" + step.upgrade_id.hex(),
      std::string("NOODLE_REVERT=") + (revert ? "1" : "0"),
  };
}

// A forward step's artifact: its signature (when required) and its declared
// SHA-256 (a local path). "" when the step may run, else why not.
std::string CheckArtifact(const StepRequest& step, const HookExecutorOptions& options, std::string* signer) {
  const proj::Component& spec = step.to;
  std::string loc = spec.artifact_location;
  if (loc.starts_with("file://")) loc = loc.substr(7);
  if (std::string why = CheckSignature(spec, loc, options, signer); !why.empty()) return why;
  if (!signer->empty() || spec.artifact_sha256.empty() || !loc.starts_with("/")) return "";
  const std::string actual = FileSha256(loc);
  if (actual == spec.artifact_sha256) return "";
  return actual.empty() ? "artifact " + loc + " cannot be read"
                        : "artifact hash mismatch: " + loc + " has SHA-256 " + actual + ", declared " +
                              spec.artifact_sha256;
}

// The hooks a step runs, in order (see hook_executor.h), or why it cannot
// run. For a revert, the hooks of the version being left carry the
// knowledge of how to undo it.
std::string HookSequence(const StepRequest& step, std::vector<const char*>* names) {
  const proj::Component& spec = step.to;
  const bool needs_swap = step.action != fb::StepAction::Deploy && step.action != fb::StepAction::Verify;
  if (needs_swap && spec.hook("swap") == nullptr && (!step.revert || spec.hook("revert") == nullptr)) {
    return spec.name + " declares no swap hook";
  }
  if (step.revert) {
    *names = {spec.hook("revert") != nullptr ? "revert" : "swap", "health"};
    return "";
  }
  switch (step.action) {
    case fb::StepAction::Swap: *names = {"prepare", "swap", "health"}; return "";
    case fb::StepAction::Switch:
    case fb::StepAction::Shift: *names = {"swap", "health"}; return "";
    case fb::StepAction::Restart: *names = {"stop", "swap", "start", "health"}; return "";
    case fb::StepAction::Deploy: *names = {"prepare"}; return "";
    case fb::StepAction::Verify: *names = {"health"}; return "";
    case fb::StepAction::Unspecified: break;
  }
  return "step " + std::to_string(step.step + 1) + " has an action this executor does not know (planned by a newer engine?)";
}

StepOutcome RunStep(const StepRequest& step, const HookExecutorOptions& options, ProcessGroups* groups) {
  const size_t tail_lines = options.output_tail_lines;
  const auto started = Clock::now();
  StepOutcome o;
  auto finish = [&](std::string failure) -> StepOutcome {
    if (!failure.empty()) {
      o.exit_code = -1;
      o.reason = std::move(failure);
    }
    o.duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count();
    return o;
  };
  // Reverts skip the artifact checks: they go back to the version that is
  // registered now, and refusing them would leave the component half-way.
  if (!step.revert) {
    if (std::string why = CheckArtifact(step, options, &o.signer); !why.empty()) return finish(std::move(why));
  }
  std::vector<const char*> names;
  if (std::string why = HookSequence(step, &names); !why.empty()) return finish(std::move(why));
  // Every hook of the step passes confinement before the first one runs.
  std::vector<std::string> programs(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    const proj::Hook* hook = step.to.hook(names[i]);
    if (hook == nullptr) continue;
    if (std::string why = CheckHookProgram(names[i], *hook, options, &programs[i]); !why.empty()) {
      o.signer.clear();
      return finish(std::move(why));
    }
  }
  const std::vector<std::string> env = StepEnvironment(step);
  std::string combined;  // the hooks' outputs in order; the tail is taken from it
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string name = names[i];
    HookRun run = RunHook(step.to.hook(name), programs[i], env, tail_lines, groups);
    if (!run.ran) continue;
    if (!run.tail.empty()) combined += (combined.empty() ? "" : "\n") + run.tail;
    o.output_tail = Tail(combined, tail_lines);
    o.exit_code = run.exit_code;
    if (name == "health") {
      o.health_checked = true;
      o.healthy = run.ok;
      o.health_detail = run.ok ? "exit code 0" : run.failure;
    }
    if (!run.ok) {
      o.timed_out = run.timed_out;
      o.reason = (name == "health" ? std::string("health check failed: ") : name + " hook failed: ") + run.failure;
      return finish("");
    }
  }
  o.succeeded = true;
  return finish("");
}

class HookExecutor final : public Executor {
 public:
  explicit HookExecutor(HookExecutorOptions o)
      : workers_(o.max_parallel_steps, [o, g = groups_.get()](const StepRequest& s) { return RunStep(s, o, g); }) {}
  void Start(const StepRequest& step, std::function<void(StepOutcome)> done) override {
    workers_.Submit(step, std::move(done));
  }
  void Abandon() override {
    workers_.Abandon();
    groups_->KillAll();
  }

 private:
  // Before workers_: the workers use it until they are joined.
  std::unique_ptr<ProcessGroups> groups_ = std::make_unique<ProcessGroups>();
  StepWorkers workers_;
};

}  // namespace

std::string CheckHookProgram(const std::string& hook_name, const proj::Hook& hook,
                             const HookExecutorOptions& options, std::string* resolved) {
  const std::string at = "hook " + hook_name + ": ";
  if (hook.argv.empty() || hook.argv[0].empty()) return at + "argv names no program";
  if (hook.shell) {
    if (!options.allow_shell) {
      return at + "shell hooks are disabled (the daemon runs them only with --allow-shell-hooks)";
    }
    *resolved = "/bin/sh";
    return "";
  }
  const std::string& program = hook.argv[0];
  if (options.hook_roots.empty()) return at + "no hook roots are configured (--hook-root): no hook program may run";
  if (std::string why = names::HookPathProblem(program); !why.empty()) {
    return at + names::Printable(program) + " " + why + " (hook programs are absolute paths under the hook roots (" +
           RootList(options.hook_roots) + "))";
  }
  int error = 0;
  const std::string real = RealPath(program, &error);
  if (real.empty()) return at + program + " cannot be resolved: " + std::strerror(error);
  for (const auto& root : options.hook_roots) {
    int root_error = 0;
    const std::string real_root = RealPath(root, &root_error);
    if (!real_root.empty() && names::UnderRoot(real, real_root)) {
      // Inside the root, but could someone else put another program there?
      if (std::string why = SwappableByOthers(real, real_root, false); !why.empty()) {
        return at + program + " is not safe to run: " + why;
      }
      *resolved = real;
      return "";
    }
  }
  if (real != program) {
    return at + program + " resolves to " + real + ", outside the hook roots (" + RootList(options.hook_roots) + ")";
  }
  return at + program + " is outside the hook roots (" + RootList(options.hook_roots) + ")";
}

std::unique_ptr<Executor> NewHookExecutor(const HookExecutorOptions& options) {
  return std::make_unique<HookExecutor>(options);
}

}  // namespace noodle::engine
