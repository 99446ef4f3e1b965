// Writes projection snapshots on a thread of its own: the engine's writer
// hands over copies and goes on; encoding and the synced RocksDB writes
// happen here. One snapshot at a time: while one is being written, offers
// are declined (the engine offers again at its next round). Internal.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "noodle/projections/registry.h"
#include "noodle/projections/statistics.h"
#include "noodle/projections/status.h"
#include "noodle/store/event_log.h"

namespace noodle::engine {

class SnapshotWriter {
 public:
  explicit SnapshotWriter(store::EventLog* log);
  // Writes the snapshot already handed over, if any, then stops.
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // True when taken: make(...) fills the copies (called under the writer's
  // lock only when the offer can be taken, so nothing is copied in vain).
  template <typename Make>
  bool Offer(uint64_t seq, Make&& make) {
    std::lock_guard<std::mutex> lock(mu_);
    if (job_ || busy_) return false;
    Job& job = job_.emplace();
    job.seq = seq;
    make(&job.registry, &job.status, &job.stats);
    cv_.notify_one();
    return true;
  }

 private:
  struct Job {
    uint64_t seq = 0;
    proj::Registry registry;
    proj::Status status;
    proj::Statistics stats;
  };
  void Loop();

  store::EventLog* const log_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Job> job_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace noodle::engine
