// RocksEventLog: the EventLog over RocksDB. Internal to store/.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chain_hash.h"
#include "keys.h"
#include "noodle/store/event_log.h"

namespace noodle::store {

// Column families, in the order they are opened.
enum Cf : size_t { kDefaultCf = 0, kEventsCf, kStreamsCf, kEventIdsCf, kSnapshotsCf, kMetaCf, kCfCount };

// Converts a RocksDB status at our edge; `what` says which operation failed.
Status FromRocks(const rocksdb::Status& s, std::string_view what);
// A failed write as Append reports it: Unavailable, "disk full: ..." or
// "I/O error: ...".
Status WriteFailure(const rocksdb::Status& s, std::string_view what);

class RocksEventLog final : public EventLog {
 public:
  RocksEventLog(std::string dir, LogOptions options) : dir_(std::move(dir)), options_(std::move(options)) {}
  ~RocksEventLog() override;

  // Opens RocksDB and loads the tail (last seq and hash). Called once by Open.
  Status Init();

  Status Append(std::string_view stream, uint64_t expected_version, std::vector<std::string> events,
                AppendResult* result) override;
  Status AppendMany(std::vector<BatchAppend>* batches) override;
  Result<StoredEvent> Read(uint64_t seq) const override;
  std::unique_ptr<LogIterator> Scan(uint64_t from, uint64_t to) const override;
  Status ReadStream(std::string_view stream, uint64_t from_version, size_t max_count,
                    std::vector<StoredEvent>* out) const override;
  Result<uint64_t> StreamVersion(std::string_view stream) const override;
  uint64_t LastSeq() const override { return last_seq_.load(std::memory_order_acquire); }
  Status Verify(uint64_t from, uint64_t to, uint64_t* checked) const override;
  Status PutSnapshot(std::string_view projection, uint64_t seq, std::string_view blob) override;
  Result<Snapshot> GetSnapshot(std::string_view projection, uint64_t at_or_below) const override;
  Status PutCheckpoint(std::string_view projection, uint64_t seq) override;
  Result<uint64_t> GetCheckpoint(std::string_view projection) const override;
  Status Writable() override;
  Result<uint64_t> FreeBytes() const override;
  Status CatchUp() override;
  Result<LogStats> Stats() const override;
  WriteCounters Counters() const override;

  rocksdb::DB* db() const { return db_; }
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles_[c]; }

 private:
  // One Append call waiting in the group-commit queue.
  struct Writer {
    std::string_view stream;
    uint64_t expected_version;
    std::vector<std::string>* events;
    AppendResult* result;
    Status status;
    bool done = false;
    // The waiting thread's; one caller may own several queued writers.
    std::condition_variable* cv = nullptr;
  };

  bool writable() const { return options_.mode == OpenMode::kReadWrite; }
  // Opens db_ and handles_ in the configured mode; db_mu_ held exclusively
  // (or not yet shared).
  Status OpenDb();
  void CloseDb();
  Status LoadTail();
  // Shared lock on db_ for a reader; Unavailable when db_ is closed (a
  // reopen failed).
  Status LockDb(std::shared_lock<std::shared_timed_mutex>* lock) const;
  Result<StoredEvent> ReadLocked(uint64_t seq) const;

  // Write failures (log_faults.cc). recover_mu_ held by all three.
  // Records that writes fail and why; logs the transition once.
  Status MarkFailed(Status why, bool rocks_failed);
  // What Counters() says while appends are refused for `why`.
  void SetFault(const Status& why);
  // While failed: at most once per retry interval, checks for room and
  // reopens RocksDB if its write failed. OK once writes may go on.
  Status RecoverLocked();
  // The ballast file (options.ballast_bytes): present and whole?
  std::string BallastPath() const { return dir_ + "/NOODLE-BALLAST"; }
  bool BallastWhole() const;
  void WriteBallast();
  // OpenDb; on a full disk, once more after giving up the ballast.
  Status OpenDbGivingUpBallast();
  // Unavailable when appending `bytes` would leave less than the reserve.
  Status CheckRoom(size_t bytes);
  // A synced snapshot or checkpoint write, with the appends' health rules.
  Status PutMeta(rocksdb::ColumnFamilyHandle* family, const std::string& key, std::string_view value,
                 std::string_view what);
  // What the leader builds for one group before writing it.
  struct GroupPlan {
    explicit GroupPlan(size_t reserve_bytes) : batch(reserve_bytes) {}
    rocksdb::WriteBatch batch;
    uint64_t next_seq = 0;
    Digest prev{};
    std::unordered_map<std::string_view, uint64_t> versions;  // streams touched by this group
    std::unordered_map<std::string_view, Writer*> firsts;      // first id -> its append in this group
    // The batches' index entries (key, batch ref), put in key order after the
    // events: each family's skiplist then takes them in ascending order.
    std::vector<std::pair<std::string, std::string>> stream_index, id_index;
  };
  // Puts the plan's index entries into its batch, each family sorted by key.
  void AddIndexEntries(GroupPlan* plan);

  // Queues the writers (contiguously) and returns when all are done, leading
  // groups whenever one of them reaches the front.
  void RunWriters(Writer* first, size_t count);
  // Leader only: decides, encodes and writes one group of appends.
  Status WriteGroup(const std::vector<Writer*>& group);
  // Leader only: decides one append of the group; adds it to the plan or
  // sets its status (or its duplicate result). found: the lookup of its first id.
  void PlanWriter(Writer& q, const std::string& id_key, const rocksdb::PinnableSlice& found,
                  const rocksdb::Status& found_status, GroupPlan* plan);
  // Leader only: assigns seqs, versions and the chain to q's events and adds
  // them and their index entries to the batch.
  void AddToBatch(Writer& q, const std::string& id_key, uint64_t version, GroupPlan* plan);
  // Leader only: writes the planned batch; the log's tail moves only if it is stored.
  Status CommitGroup(const std::vector<Writer*>& group, GroupPlan* plan);
  // Leader only: the stream's version, from the cache or RocksDB.
  Result<uint64_t> CachedStreamVersion(std::string_view stream);
  // The stream's version; db_mu_ held (shared).
  Result<uint64_t> StreamVersionLocked(std::string_view stream) const;
  // Leader only: fills a duplicate append's result, or says why it is not one.
  Status ResolveDuplicate(const Writer& w, const keys::BatchRef& stored);
  // Leader only: q retries `original`, an append of this same group.
  static void ResolveGroupRetry(const Writer& original, Writer* q);

  const std::string dir_;
  const LogOptions options_;
  std::string secondary_dir_;  // created by us; removed on close
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;

  std::atomic<uint64_t> last_seq_{0};
  // Counters(): written by the leader (or a PutMeta caller), read by anyone.
  std::atomic<uint64_t> group_writes_{0}, synced_writes_{0}, appended_events_{0};
  std::atomic<WriteCounters::Fault> fault_{WriteCounters::Fault::kNone};

  // Readers hold it shared while they use db_; a reopen holds it exclusively.
  mutable std::shared_timed_mutex db_mu_;

  // Write health. healthy_ is read without the lock on the fast path.
  std::mutex recover_mu_;
  std::atomic<bool> healthy_{true};
  bool rocks_failed_ = false;  // RocksDB's write failed: only a reopen clears it
  Status failure_;
  std::chrono::steady_clock::time_point failed_at_{}, last_retry_{}, last_room_check_{};
  uint64_t free_at_check_ = UINT64_MAX;  // statvfs at last_room_check_
  uint64_t written_since_check_ = 0;

  // Group commit queue (LevelDB's writer queue): the front writer leads.
  std::mutex mu_;
  std::deque<Writer*> writers_;

  // Owned by the current leader; no lock needed while it leads.
  Digest last_hash_{};
  std::unordered_map<std::string, uint64_t> stream_versions_;
};

}  // namespace noodle::store
