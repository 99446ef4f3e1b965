#include "noodle/engine/agent_executor.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace noodle::engine {
namespace {

using Clock = std::chrono::steady_clock;

class AgentExecutor final : public Executor {
 public:
  explicit AgentExecutor(AgentExecutorOptions o) : options_(o), thread_([this] { Loop(); }) {}
  ~AgentExecutor() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      pending_.clear();
    }
    cv_.notify_all();
    thread_.join();
  }

  void Start(const StepRequest& step, std::function<void(StepOutcome)> done) override {
    int64_t budget_ms = options_.grace_ms;
    for (const auto& [name, hook] : step.to.hooks) budget_ms += hook.timeout_ms;
    StepOutcome timeout;
    timeout.timed_out = true;
    timeout.exit_code = -1;
    timeout.reason = "no agent reported " + std::string(step.revert ? "the revert of " : "") + "step " +
                     std::to_string(step.step + 1) + (step.instance.empty() ? "" : " on " + step.instance) + " within " +
                     std::to_string(budget_ms) + " ms (agent gone?)";
    timeout.duration_ns = budget_ms * 1'000'000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.emplace(Clock::now() + std::chrono::milliseconds(budget_ms),
                       [done = std::move(done), timeout] { done(timeout); });
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (pending_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const auto due = pending_.begin()->first;
      if (Clock::now() < due) {
        cv_.wait_until(lock, due);
        continue;
      }
      auto fire = std::move(pending_.begin()->second);
      pending_.erase(pending_.begin());
      lock.unlock();
      fire();  // a late report for a step an agent already finished is refused by the engine
      lock.lock();
    }
  }

  const AgentExecutorOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::function<void()>> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Executor> NewAgentExecutor(const AgentExecutorOptions& options) {
  return std::make_unique<AgentExecutor>(options);
}

}  // namespace noodle::engine
