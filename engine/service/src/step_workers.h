// A bounded pool of threads that run executor steps, each to its end, and
// hand the outcome to the step's callback. Shared by the executors.
// Internal to engine/.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "noodle/engine/executor.h"

namespace noodle::engine {

class StepWorkers {
 public:
  using Run = std::function<StepOutcome(const StepRequest&)>;
  StepWorkers(size_t threads, Run run) : run_(std::move(run)) {
    for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) workers_.emplace_back([this] { Work(); });
  }
  // Waits for running steps; drops queued ones (their callbacks are not called).
  ~StepWorkers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  void Submit(const StepRequest& step, std::function<void(StepOutcome)> done) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || abandoned_) return;
      queue_.push_back({step, std::move(done)});
    }
    cv_.notify_one();
  }
  // Drops the queued steps; the running ones finish (the caller ends them
  // sooner, e.g. by killing their processes) without calling back.
  void Abandon() {
    std::lock_guard<std::mutex> lock(mu_);
    abandoned_ = true;
    queue_.clear();
  }

 private:
  struct Job {
    StepRequest step;
    std::function<void(StepOutcome)> done;
  };
  void Work() {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      StepOutcome outcome = run_(job.step);
      if (!abandoned_.load()) job.done(std::move(outcome));
    }
  }
  Run run_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::atomic<bool> abandoned_{false};
  std::vector<std::thread> workers_;
};

}  // namespace noodle::engine
