#include "round_committer.h"

namespace noodle::engine {

RoundCommitter::RoundCommitter(store::EventLog* log, std::function<void()> done)
    : log_(log), on_done_(std::move(done)), thread_([this] { Loop(); }) {}

RoundCommitter::~RoundCommitter() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return job_ == nullptr || done_; });
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RoundCommitter::Start(std::vector<store::BatchAppend>* appends) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = appends;
    done_ = false;
  }
  cv_.notify_all();
}

bool RoundCommitter::Busy() {
  std::lock_guard<std::mutex> lock(mu_);
  return job_ != nullptr && !done_;
}

std::chrono::nanoseconds RoundCommitter::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return job_ == nullptr || done_; });
  job_ = nullptr;
  return took_;
}

void RoundCommitter::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || (job_ != nullptr && !done_); });
    if (stop_) return;
    std::vector<store::BatchAppend>* job = job_;
    lock.unlock();
    const auto start = std::chrono::steady_clock::now();
    log_->AppendMany(job);  // each batch's status says what was stored
    const auto took = std::chrono::steady_clock::now() - start;
    lock.lock();
    took_ = std::chrono::duration_cast<std::chrono::nanoseconds>(took);
    done_ = true;
    cv_.notify_all();
    lock.unlock();
    if (on_done_) on_done_();
    lock.lock();
  }
}

}  // namespace noodle::engine
