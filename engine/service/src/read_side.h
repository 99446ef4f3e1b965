// The read side: after each durable round the writer hands over the round's
// stored events and its replies; a projector thread folds them into a new
// immutable Version, publishes it, and only then sends the replies, so a
// client that has a reply reads its own writes. Readers take the newest
// version by pointer (no copy, no lock held while they read) and never wait
// for the writer or an fsync. Two versions are kept and take turns; one
// still held by a reader (counted, not guessed from a shared_ptr's use_count,
// which is no synchronization) is left to it and a fresh copy takes its place.
// Internal.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "inbox.h"
#include "noodle/engine/engine.h"
#include "snapshot_writer.h"
#include "version.h"

namespace noodle::engine {

// What the writer hands over after a round: the events it stored, in seq
// order, and the replies to send once they can be read.
struct DurableRound {
  std::shared_ptr<const std::vector<std::string>> events;
  std::vector<std::pair<InboxItem, Reply>> answers;
};

class ReadSide {
 public:
  // first: the state rebuilt at start. snapshot_every: events between
  // snapshots offered to snapshots (0: none; snapshots may be null), and at
  // least events_per_item per item of state (EngineOptions says why).
  // observer (may be null) sees each folded round once its replies are sent.
  ReadSide(Version first, uint64_t snapshot_every, uint64_t events_per_item, SnapshotWriter* snapshots,
           EngineObserver* observer = nullptr);
  // Stop() if not yet.
  ~ReadSide();
  // Folds and answers everything handed over, then stops the projector;
  // Latest() keeps answering. Idempotent; not concurrent with Hand.
  void Stop();
  ReadSide(const ReadSide&) = delete;
  ReadSide& operator=(const ReadSide&) = delete;

  // Writer thread. Never blocks on readers.
  void Hand(DurableRound round);
  // Any thread: the newest published version (never null).
  VersionPtr Latest() const;
  // Writer thread: waits until everything handed over is published.
  void Drain();
  // Writer thread, after a rebuild from the log: drains, then publishes v.
  void Reset(Version v);

 private:
  void Loop();
  // A pointer to v that counts as a reader's hold until its last copy goes.
  static VersionPtr Held(const std::shared_ptr<Version>& v);
  // The version to fold into next: the spare one brought up to date, or a
  // copy of the published one when a reader still holds the spare.
  std::shared_ptr<Version> Writable();
  void Publish(std::shared_ptr<Version> next, std::vector<std::shared_ptr<const std::vector<std::string>>> folded);

  const uint64_t snapshot_every_;
  const uint64_t events_per_item_;
  SnapshotWriter* const snapshots_;
  EngineObserver* const observer_;
  mutable std::mutex mu_;
  std::condition_variable cv_, drained_;
  std::deque<DurableRound> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::shared_ptr<Version> published_;
  // Projector thread only: the previous version and the events it lacks.
  std::shared_ptr<Version> spare_;
  std::vector<std::shared_ptr<const std::vector<std::string>>> spare_lacks_;
  uint64_t offered_seq_ = 0;
  std::thread thread_;
};

}  // namespace noodle::engine
