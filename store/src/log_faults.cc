// Write failures: a full disk or an I/O error refuses appends (Unavailable)
// instead of ending the process, keeps reads going, and retries on its own.
// RocksDB keeps a failed write's error for the life of the DB object, so the
// retry reopens it once the filesystem has room again.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rocks_log.h"

namespace noodle::store {
namespace {
using Clock = std::chrono::steady_clock;

std::string Mb(uint64_t bytes) {
  char text[32];
  snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / (1 << 20));
  return text;
}
}  // namespace

void RocksEventLog::SetFault(const Status& why) {
  const bool full = why.message().starts_with("disk full");
  fault_.store(full ? WriteCounters::Fault::kDiskFull : WriteCounters::Fault::kIoError, std::memory_order_relaxed);
}

Status RocksEventLog::MarkFailed(Status why, bool rocks_failed) {
  rocks_failed_ = rocks_failed_ || rocks_failed;
  failure_ = why;
  SetFault(why);
  last_retry_ = Clock::now();
  if (healthy_.exchange(false)) {
    failed_at_ = last_retry_;
    spdlog::error("event log {}: appends refused ({}); reads go on, and appends resume on their own once the "
                  "filesystem has room",
                  dir_, why.message());
  }
  return why;
}

Status RocksEventLog::RecoverLocked() {
  if (healthy_.load()) return Status::OK();
  const auto now = Clock::now();
  if (now - last_retry_ < std::chrono::milliseconds(options_.retry_interval_ms)) return failure_;
  last_retry_ = now;
  // Room for the margin, and for the ballast when it was given up.
  const uint64_t need = options_.reserve_free_bytes + (BallastWhole() ? 0 : options_.ballast_bytes);
  auto free = FreeBytes();
  if (free.ok() && free.value() < need) {
    failure_ = Status::Unavailable("disk full: " + Mb(free.value()) + " free on the log's filesystem");
    SetFault(failure_);
    return failure_;
  }
  if (rocks_failed_) {
    // Readers hold the lock shared for a read or a scan; one that holds it
    // long only delays this retry to the next.
    std::unique_lock<std::shared_timed_mutex> lock(db_mu_, std::defer_lock);
    if (!lock.try_lock_for(std::chrono::seconds(1))) return failure_;
    CloseDb();
    Status s = OpenDbGivingUpBallast();
    if (s.ok()) s = LoadTail();
    if (!s.ok()) {
      spdlog::warn("event log {}: reopen after the write failure failed: {}", dir_, s.ToString());
      if (s.code() == Status::Code::kUnavailable) failure_ = s;
      else failure_ = Status::Unavailable("reopening the log failed: " + s.ToString());
      return failure_;
    }
    rocks_failed_ = false;
    stream_versions_.clear();
  }
  WriteBallast();
  last_room_check_ = {};
  healthy_.store(true);
  fault_.store(WriteCounters::Fault::kNone, std::memory_order_relaxed);
  spdlog::info("event log {}: appends accepted again after {:.1f} s", dir_,
               std::chrono::duration<double>(now - failed_at_).count());
  return Status::OK();
}

Status RocksEventLog::CheckRoom(size_t bytes) {
  if (options_.reserve_free_bytes == 0) return Status::OK();
  // statvfs at most every 50 ms, and sooner when what was written since
  // could have used up the margin.
  const auto now = Clock::now();
  const uint64_t need = options_.reserve_free_bytes + written_since_check_ + bytes;
  if (now - last_room_check_ > std::chrono::milliseconds(50) || need > free_at_check_) {
    auto free = FreeBytes();
    if (!free.ok()) return Status::OK();  // cannot tell: let RocksDB's write decide
    free_at_check_ = free.value();
    written_since_check_ = 0;
    last_room_check_ = now;
  }
  if (options_.reserve_free_bytes + written_since_check_ + bytes > free_at_check_) {
    return Status::Unavailable("disk full: " + Mb(free_at_check_) + " free on the log's filesystem, " +
                               Mb(options_.reserve_free_bytes) + " kept in reserve");
  }
  written_since_check_ += bytes;
  return Status::OK();
}

Status RocksEventLog::Writable() {
  if (!writable()) return Status::NotSupported("event log opened as a reader");
  if (healthy_.load()) return Status::OK();
  std::lock_guard<std::mutex> lock(recover_mu_);
  return RecoverLocked();
}

bool RocksEventLog::BallastWhole() const {
  if (options_.ballast_bytes == 0) return true;
  struct stat st {};
  return ::stat(BallastPath().c_str(), &st) == 0 && static_cast<size_t>(st.st_blocks) * 512 >= options_.ballast_bytes;
}

void RocksEventLog::WriteBallast() {
  if (!writable() || BallastWhole()) return;
  const std::string path = BallastPath();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  // Allocated blocks, not a sparse file: the point is to hold real space.
  const bool ok = fd >= 0 && ::posix_fallocate(fd, 0, static_cast<off_t>(options_.ballast_bytes)) == 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    spdlog::warn("event log {}: no room for the {} ballast yet", dir_, Mb(options_.ballast_bytes));
  }
}

Status RocksEventLog::OpenDbGivingUpBallast() {
  Status s = OpenDb();
  if (s.ok() || s.message().find("No space left") == std::string::npos || ::unlink(BallastPath().c_str()) != 0) {
    return s;
  }
  spdlog::warn("event log {}: the disk is full; the {} ballast is given up so that the log opens", dir_,
               Mb(options_.ballast_bytes));
  s = OpenDb();
  if (s.ok()) {
    // Open, but with no room: appends wait for space (and the ballast back).
    failure_ = Status::Unavailable("disk full: the log opened only by giving up its ballast");
    SetFault(failure_);
    last_retry_ = Clock::now();
    if (healthy_.exchange(false)) failed_at_ = last_retry_;
    spdlog::error("event log {}: appends refused ({}); reads go on, and appends resume on their own once the "
                  "filesystem has room",
                  dir_, failure_.message());
  }
  return s;
}

Status WriteFailure(const rocksdb::Status& s, std::string_view what) {
  if (s.IsNoSpace()) return Status::Unavailable("disk full: " + std::string(what) + ": " + s.ToString());
  return Status::Unavailable("I/O error: " + std::string(what) + ": " + s.ToString());
}

}  // namespace noodle::store
