#include "head_signer.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "noodle/fb/events_generated.h"

namespace noodle::daemon {

HeadSigner::HeadSigner(store::EventLog* log, store::HeadKey key, HeadSignerOptions options,
                       std::function<void(const std::string&)> publish)
    : log_(log), key_(std::move(key)), options_(std::move(options)), publish_(std::move(publish)) {
  if (options_.every_events == 0) options_.every_events = 1;
  if (options_.every_seconds <= 0) options_.every_seconds = 10;
  if (options_.checkpoint_every == 0) options_.checkpoint_every = 1;
}

HeadSigner::~HeadSigner() { Stop(); }

Status HeadSigner::Start(uint64_t verified_through) {
  const uint64_t last = log_->LastSeq();
  store::HeadHash hash{};
  if (last > 0) {
    auto ev = log_->Read(last);
    if (!ev.ok()) return ev.status();
    if (const auto* h = ev->envelope()->hash()) std::copy(h->bytes()->begin(), h->bytes()->end(), hash.begin());
  }
  auto cp = log_->GetCheckpoint(kChainVerifiedCheckpoint);
  {
    std::lock_guard lk(mu_);
    newest_seq_ = last;
    newest_hash_ = hash;
    // Checkpoints may follow this daemon's own events only when the chain
    // was verified up to where they start.
    checkpoints_allowed_ = verified_through >= last;
    checkpoint_ = cp.ok() ? cp.value() : 0;
  }
  if (Status s = SignAndStore(last, hash); !s.ok()) {
    // A full disk must not keep the daemon from starting; the head is signed
    // again once the log moves and the write succeeds.
    if (s.code() != Status::Code::kUnavailable && s.code() != Status::Code::kIOError) return s;
    spdlog::warn("head signer: the head at seq {} is not stored: {}", last, s.ToString());
  }
  std::lock_guard lk(mu_);
  started_ = true;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
  return Status::OK();
}

void HeadSigner::OnDurable(const std::vector<std::string>& events) {
  if (events.empty()) return;
  // The engine hands over events the log stored and verified.
  const auto* env = flatbuffers::GetRoot<fb::EventEnvelope>(events.back().data());
  std::lock_guard lk(mu_);
  if (env->seq() <= newest_seq_) return;
  newest_seq_ = env->seq();
  if (const auto* h = env->hash()) std::copy(h->bytes()->begin(), h->bytes()->end(), newest_hash_.begin());
  if (newest_seq_ - signed_seq_ >= options_.every_events) cv_.notify_one();
}

std::string HeadSigner::Latest() const {
  std::lock_guard lk(mu_);
  return latest_;
}

void HeadSigner::Run() {
  using Clock = std::chrono::steady_clock;
  const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.every_seconds));
  std::unique_lock lk(mu_);
  auto deadline = Clock::now() + period;
  while (!stop_) {
    cv_.wait_until(lk, deadline, [&] { return stop_ || newest_seq_ - signed_seq_ >= options_.every_events; });
    if (stop_) break;
    const bool due = newest_seq_ - signed_seq_ >= options_.every_events || Clock::now() >= deadline;
    if (due && newest_seq_ != signed_seq_) {
      const uint64_t seq = newest_seq_;
      const store::HeadHash hash = newest_hash_;
      lk.unlock();
      if (Status s = SignAndStore(seq, hash); !s.ok()) spdlog::error("head signer: {}", s.ToString());
      MaybeCheckpoint(seq);
      lk.lock();
    }
    if (due) deadline = Clock::now() + period;
  }
}

Status HeadSigner::SignAndStore(uint64_t seq, const store::HeadHash& hash) {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  // A synced write: with --sync off the events the head covers may still be
  // in the page cache only, and a head must never outlive its events (a
  // machine crash would then look like deleted events). One fsync per head.
  if (Status s = log_->PutCheckpoint(kHeadSignedCheckpoint, seq); !s.ok()) return s;
  std::string head = key_.Sign(seq, hash, now);
  // Served before it is on disk (the file is never newer than what replay
  // serves). The head is valid whether or not the file write succeeds:
  // keep and publish it either way, report the write.
  {
    std::lock_guard lk(mu_);
    if (seq >= signed_seq_) {
      signed_seq_ = seq;
      latest_ = head;
    }
  }
  Status written = options_.head_path.empty() ? Status::OK() : store::WriteFileAtomic(options_.head_path, head, 0600);
  if (publish_) publish_(head);
  return written;
}

void HeadSigner::MaybeCheckpoint(uint64_t seq) {
  // At multiples of checkpoint_every only: a restart then re-verifies at
  // most that many events, and so does an old event's flipped byte go
  // unnoticed at start for at most that long (audit verify checks all).
  const uint64_t target = seq - seq % options_.checkpoint_every;
  {
    std::lock_guard lk(mu_);
    // Everything up to the start was verified then, everything after it was
    // written by this daemon: a checkpoint covers nothing else.
    if (!checkpoints_allowed_ || target <= checkpoint_) return;
  }
  if (Status s = log_->PutCheckpoint(kChainVerifiedCheckpoint, target); !s.ok()) {
    spdlog::warn("head signer: checkpoint at seq {}: {}", target, s.ToString());
    return;
  }
  std::lock_guard lk(mu_);
  checkpoint_ = std::max(checkpoint_, target);
}

void HeadSigner::Stop() {
  {
    std::lock_guard lk(mu_);
    if (!started_) return;
    started_ = false;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  uint64_t seq;
  store::HeadHash hash;
  bool moved;
  {
    std::lock_guard lk(mu_);
    seq = newest_seq_;
    hash = newest_hash_;
    moved = newest_seq_ != signed_seq_;
  }
  if (moved) {
    if (Status s = SignAndStore(seq, hash); !s.ok()) spdlog::error("head signer: final head: {}", s.ToString());
  }
  MaybeCheckpoint(seq);
}

}  // namespace noodle::daemon
