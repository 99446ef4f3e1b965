// The daemon's head signer: signs the chain head (seq, hash of event seq,
// now) every N events and every T seconds while the log moves, keeps the
// newest in <data>/head.signed and publishes it. It also advances the
// "chain-verified" checkpoint over the events this daemon wrote.
//
// It learns of new events through OnDurable, called with the engine's
// durable events (HeadFanOut below does this next to the bus publisher); the
// signing, the file write and the checkpoint happen on a thread of its own,
// never on the engine's writer thread.
//
// Thread safety: OnDurable and Latest may be called from any thread; Start
// and Stop from the owning thread only.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "noodle/engine/executor.h"
#include "noodle/status.h"
#include "noodle/store/event_log.h"
#include "noodle/store/signed_head.h"

namespace noodle::daemon {

// The checkpoint name of the verified prefix of the chain.
inline constexpr char kChainVerifiedCheckpoint[] = "chain-verified";
// The checkpoint of the newest signed head's seq (written synced before the
// head, which makes the events it covers durable first).
inline constexpr char kHeadSignedCheckpoint[] = "head-signed";

struct HeadSignerOptions {
  // Where the newest signed head is kept (mode 0600).
  std::string head_path;
  // Sign after this many new events. Each signature costs ~50 us of CPU and
  // a synced file write (a few ms on a disk) on the signer's thread; a lower
  // value pins more recent history against truncation.
  uint64_t every_events = 1000;
  // Sign after this many seconds when the log moved since the last head.
  // Events newer than the last head can be deleted without a trace for up to
  // this long (after a crash; a clean stop signs the final head).
  double every_seconds = 10;
  // The "chain-verified" checkpoint follows this daemon's events at
  // multiples of this: one synced RocksDB write each; a restart re-verifies
  // up to this many events (plus those after the newest signed head).
  uint64_t checkpoint_every = 100'000;
};

class HeadSigner {
 public:
  // publish gets each new head (SignedHead bytes) on the signer's thread;
  // it must not block long. log outlives the signer.
  HeadSigner(store::EventLog* log, store::HeadKey key, HeadSignerOptions options,
             std::function<void(const std::string&)> publish);
  ~HeadSigner();  // Stop()
  HeadSigner(const HeadSigner&) = delete;
  HeadSigner& operator=(const HeadSigner&) = delete;

  // Signs the log's current head now (so head.signed exists before the
  // daemon serves) and starts the thread. verified_through is the seq up to
  // which the chain was verified at start: events after it are this
  // daemon's own, so the checkpoint may follow them.
  // IOError: the head file cannot be written (the daemon should not start).
  Status Start(uint64_t verified_through);

  // Durable EventEnvelope buffers, in seq order (the engine's publisher
  // contract). Cheap: remembers the newest seq and hash, wakes the thread
  // when every_events have accumulated.
  void OnDurable(const std::vector<std::string>& events);

  // The newest SignedHead bytes ("" before Start).
  std::string Latest() const;

  // Joins the thread, signs the final head (when the log moved) and moves
  // the checkpoint. Call after the engine stopped. Idempotent.
  void Stop();

 private:
  void Run();
  // Signs (seq, hash) and stores it; called without mu_ held.
  Status SignAndStore(uint64_t seq, const store::HeadHash& hash);
  void MaybeCheckpoint(uint64_t seq);

  store::EventLog* log_;
  store::HeadKey key_;
  HeadSignerOptions options_;
  std::function<void(const std::string&)> publish_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool started_ = false;
  uint64_t newest_seq_ = 0;  // newest durable event seen
  store::HeadHash newest_hash_{};
  uint64_t signed_seq_ = 0;  // seq of the newest signed head
  std::string latest_;       // its bytes
  uint64_t checkpoint_ = 0;  // the "chain-verified" checkpoint as written
  bool checkpoints_allowed_ = false;
  std::thread thread_;
};

// The engine's publisher in the daemon: the bus publisher first (subscribers
// see events as soon as they are durable), then the head signer.
class HeadFanOut final : public engine::EventPublisher {
 public:
  HeadFanOut(engine::EventPublisher* bus, HeadSigner* signer) : bus_(bus), signer_(signer) {}
  void Publish(const std::vector<std::string>& events) override {
    if (bus_ != nullptr) bus_->Publish(events);
    if (signer_ != nullptr) signer_->OnDurable(events);
  }

 private:
  engine::EventPublisher* bus_;
  HeadSigner* signer_;
};

}  // namespace noodle::daemon
