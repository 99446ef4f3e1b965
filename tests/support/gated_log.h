// A real EventLog behind a gate the test holds: appends can be held (so the
// engine decides its next round while one is being written) and the held
// appends can be made to fail as a full disk would, storing nothing, while
// the appends after them go through (a transient fault). Every other call,
// and every append let through, goes to the real log. Fault injection for
// tests only.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>

#include "noodle/store/event_log.h"

namespace noodle::test {

class GatedLog final : public store::EventLog {
 public:
  explicit GatedLog(store::EventLog* real) : real_(real) {}

  // The next appends wait at the gate until Release or FailHeld.
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = true;
  }
  // True once an append waits at the gate.
  bool AppendWaiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_ > 0;
  }
  // Lets the waiting and later appends through to the real log.
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  // Lets one append through (a waiting one, or the next) and keeps holding
  // the ones after it.
  void PassOne() {
    std::lock_guard<std::mutex> lock(mu_);
    ++passes_;
    cv_.notify_all();
  }
  // The appends waiting now fail with Unavailable(why) and store nothing;
  // the gate opens for the ones after them.
  void FailHeld(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = why;
    to_fail_ = waiting_;
    held_ = false;
    cv_.notify_all();
  }
  // True once StreamVersion was asked for stream (the engine asks it while
  // it decides a command that creates the stream).
  bool Asked(const std::string& stream) {
    std::lock_guard<std::mutex> lock(mu_);
    return asked_.count(stream) > 0;
  }

  Status Append(std::string_view stream, uint64_t expected_version, std::vector<std::string> events,
                store::AppendResult* result) override {
    if (Status s = Gate(); !s.ok()) return s;
    return real_->Append(stream, expected_version, std::move(events), result);
  }
  Status AppendMany(std::vector<store::BatchAppend>* batches) override {
    if (Status s = Gate(); !s.ok()) {
      for (auto& b : *batches) b.status = s;
      return s;
    }
    return real_->AppendMany(batches);
  }
  Result<store::StoredEvent> Read(uint64_t seq) const override { return real_->Read(seq); }
  std::unique_ptr<store::LogIterator> Scan(uint64_t from, uint64_t to) const override { return real_->Scan(from, to); }
  Status ReadStream(std::string_view stream, uint64_t from_version, size_t max_count,
                    std::vector<store::StoredEvent>* out) const override {
    return real_->ReadStream(stream, from_version, max_count, out);
  }
  Result<uint64_t> StreamVersion(std::string_view stream) const override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      asked_.insert(std::string(stream));
    }
    return real_->StreamVersion(stream);
  }
  uint64_t LastSeq() const override { return real_->LastSeq(); }
  Status Verify(uint64_t from, uint64_t to, uint64_t* checked) const override { return real_->Verify(from, to, checked); }
  Status PutSnapshot(std::string_view projection, uint64_t seq, std::string_view blob) override {
    return real_->PutSnapshot(projection, seq, blob);
  }
  Result<store::Snapshot> GetSnapshot(std::string_view projection, uint64_t at_or_below) const override {
    return real_->GetSnapshot(projection, at_or_below);
  }
  Status PutCheckpoint(std::string_view projection, uint64_t seq) override {
    return real_->PutCheckpoint(projection, seq);
  }
  Result<uint64_t> GetCheckpoint(std::string_view projection) const override {
    return real_->GetCheckpoint(projection);
  }
  Status Writable() override { return real_->Writable(); }
  Result<uint64_t> FreeBytes() const override { return real_->FreeBytes(); }
  Status CatchUp() override { return real_->CatchUp(); }
  Result<store::LogStats> Stats() const override { return real_->Stats(); }
  store::WriteCounters Counters() const override { return real_->Counters(); }

 private:
  Status Gate() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [this] { return !held_ || passes_ > 0; });
    if (held_) --passes_;
    --waiting_;
    if (to_fail_ == 0) return Status::OK();
    --to_fail_;
    return Status::Unavailable(failure_);
  }

  store::EventLog* const real_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int waiting_ = 0;
  int passes_ = 0;  // appends PassOne lets through a held gate
  int to_fail_ = 0;
  std::string failure_;
  mutable std::set<std::string> asked_;
};

}  // namespace noodle::test
