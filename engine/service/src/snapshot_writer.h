// Writes projection snapshots on a thread of its own: the read side hands
// over a published version (shared, never copied) and goes on; encoding and
// the synced RocksDB writes happen here. One snapshot at a time: while one
// is being written, offers are declined (the next version offers again).
// Internal.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "noodle/store/event_log.h"
#include "version.h"

namespace noodle::engine {

class SnapshotWriter {
 public:
  explicit SnapshotWriter(store::EventLog* log);
  // Writes the snapshot already handed over, if any, then stops.
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // True when taken (nothing else is being written). Thread-safe.
  bool Offer(VersionPtr version);

 private:
  void Loop();

  store::EventLog* const log_;
  std::mutex mu_;
  std::condition_variable cv_;
  VersionPtr job_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace noodle::engine
