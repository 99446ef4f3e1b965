// The log's half of a round: a thread that appends a decided round's events
// (group commit, fsync) while the writer decides the next round against its
// speculative state. One round at a time; the writer waits for it before it
// settles and answers that round, so rounds are stored, published and
// answered in the order they were decided. Internal.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "noodle/store/event_log.h"

namespace noodle::engine {

class RoundCommitter {
 public:
  // done is called on the committer's thread after each round is appended
  // (the writer may be waiting for either that or new commands).
  RoundCommitter(store::EventLog* log, std::function<void()> done);
  // Waits for a round being appended, then ends the thread.
  ~RoundCommitter();
  RoundCommitter(const RoundCommitter&) = delete;
  RoundCommitter& operator=(const RoundCommitter&) = delete;

  // Starts appending *appends (EventLog::AppendMany). The caller leaves
  // *appends alone until Wait returns. Writer thread; never while busy.
  void Start(std::vector<store::BatchAppend>* appends);
  // True while the round Start began is still being appended.
  bool Busy();
  // Waits for the round Start began; returns how long its append took.
  std::chrono::nanoseconds Wait();

 private:
  void Loop();

  store::EventLog* const log_;
  const std::function<void()> on_done_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<store::BatchAppend>* job_ = nullptr;  // set: being appended
  bool done_ = false;                               // the job is appended
  bool stop_ = false;
  std::chrono::nanoseconds took_{0};
  std::thread thread_;
};

}  // namespace noodle::engine
