#include <chrono>

#include "noodle/engine/executor_by_kind.h"
#include "noodle/plugin/executor.h"
#include "step_workers.h"

namespace noodle::plugin {
namespace {

using engine::StepOutcome;
using engine::StepRequest;

Release ReleaseOf(const proj::Component& c) { return {c.version, c.artifact_sha256, c.artifact_require_signature}; }

StepOutcome Run(Host* host, const StepRequest& step) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& name = step.to.name;
  Status s;
  bool health_checked = false;
  ReleaseCheck check;  // health and the library's verified signer, when checked
  if (host->Find(name) == nullptr) {
    // First step for this component in this host: bring up what serves now.
    auto plugin = step.from.metadata.find("plugin");
    s = host->Start(name, ReleaseOf(step.from), {}, plugin == step.from.metadata.end() ? "" : plugin->second, nullptr);
  }
  if (s.ok() && !step.revert && step.action == fb::StepAction::Unspecified) {
    s = Status::InvalidArgument("step " + std::to_string(step.step + 1) +
                                " has an action this executor does not know (planned by a newer engine?)");
  } else if (s.ok() && step.revert) {
    s = host->Revert(name);
  } else if (s.ok() && step.action == fb::StepAction::Verify) {
    s = host->ValidateSwapIntegrity(name, ReleaseOf(step.to), &check);
    health_checked = true;
  } else if (s.ok()) {
    const uint32_t weight = step.action == fb::StepAction::Deploy   ? 0
                            : step.action == fb::StepAction::Switch ? 100
                                                                    : step.weight;
    auto swap = host->SwapOf(name);
    const bool staged = swap.ok() && swap->staged == step.to.version;
    if (!staged) {
      s = host->Stage(name, ReleaseOf(step.to), weight, &check);
      health_checked = true;
    } else {
      s = host->SetWeight(name, weight);
    }
    if (s.ok() && weight >= 100) s = host->Commit(name);
  }
  StepOutcome o;
  o.succeeded = s.ok();
  o.exit_code = s.ok() ? 0 : 1;
  o.reason = s.ok() ? "" : s.message();
  o.health_checked = health_checked;
  o.healthy = !check.unhealthy;
  o.health_detail = o.healthy ? "healthy" : s.message();
  o.signer = check.signer;
  o.duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

class PluginExecutor final : public engine::Executor {
 public:
  PluginExecutor(Host* host, size_t threads) : workers_(threads, [host](const StepRequest& s) { return Run(host, s); }) {}
  void Start(const StepRequest& step, std::function<void(StepOutcome)> done) override {
    workers_.Submit(step, std::move(done));
  }
  // A plugin swap runs in this process and cannot be killed: the running
  // ones finish (they are short), the queued ones are dropped.
  void Abandon() override { workers_.Abandon(); }

 private:
  engine::StepWorkers workers_;
};

class ByKind final : public engine::Executor {
 public:
  explicit ByKind(std::map<fb::ExecutorKind, Executor*> e) : executors_(std::move(e)) {}
  void Start(const StepRequest& step, std::function<void(StepOutcome)> done) override {
    auto it = executors_.find(step.to.executor);
    if (it == executors_.end() || it->second == nullptr) {
      StepOutcome o;
      o.exit_code = -1;
      o.reason = std::string("no ") + fb::EnumNameExecutorKind(step.to.executor) + " executor is configured";
      done(o);
      return;
    }
    it->second->Start(step, std::move(done));
  }
  void Abandon() override {
    for (const auto& [kind, e] : executors_) {
      if (e != nullptr) e->Abandon();
    }
  }

 private:
  std::map<fb::ExecutorKind, Executor*> executors_;
};

}  // namespace

std::unique_ptr<engine::Executor> NewPluginExecutor(Host* host, size_t threads) {
  return std::make_unique<PluginExecutor>(host, threads);
}

}  // namespace noodle::plugin

namespace noodle::engine {
std::unique_ptr<Executor> NewExecutorByKind(std::map<fb::ExecutorKind, Executor*> executors) {
  return std::make_unique<plugin::ByKind>(std::move(executors));
}
}  // namespace noodle::engine
