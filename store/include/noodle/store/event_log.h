// The event log: an append-only, hash-chained sequence of FlatBuffers events
// in RocksDB. Global seqs are gapless from 1; each stream ("component/db",
// "upgrade/<id>") has its own version counter for optimistic concurrency.
//
// No method modifies or deletes a stored event. Every value read back passes
// the FlatBuffers Verifier; a value that fails it is reported as a Corruption
// Status carrying its seq, never a crash. No exception leaves this module.
//
// Thread safety: every method may be called from any thread at any time.
// Concurrent Append calls are grouped into one RocksDB write (group commit).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "noodle/status.h"
#include "noodle/store/options.h"

namespace noodle::fb {
struct EventEnvelope;
}

namespace noodle::store {

// Expected-version values for Append besides an exact version.
inline constexpr uint64_t kAnyVersion = UINT64_MAX;  // no concurrency check
inline constexpr uint64_t kNoStream = 0;             // the stream must not exist yet

// One event as stored: its seq and its verified FlatBuffers bytes.
struct StoredEvent {
  uint64_t seq = 0;
  std::string bytes;
  // A view into bytes; valid while this object lives and bytes is unchanged.
  const fb::EventEnvelope* envelope() const;
};

struct AppendResult {
  // Seqs assigned to the batch, in order (contiguous).
  std::vector<uint64_t> seqs;
  // The stream's version after the batch's last event.
  uint64_t stream_version = 0;
  // True when this batch was already stored (a retry): nothing was written
  // and seqs are those of the original append.
  bool duplicate = false;
  // The events as stored (seq, version and hashes filled in), in order.
  // Empty for a duplicate.
  std::vector<std::string> events;
};

// One batch of AppendMany: the arguments and results of one Append.
struct BatchAppend {
  std::string stream;
  uint64_t expected_version = kAnyVersion;
  std::vector<std::string> events;  // moved into result.events once stored
  Status status;
  AppendResult result;
};

// Iterates stored events in seq order. Not thread-safe; one per reader.
// It must be destroyed before the EventLog that made it.
class LogIterator {
 public:
  virtual ~LogIterator() = default;
  // False at the end of the range or after an error; then check status().
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual uint64_t seq() const = 0;
  // Verified bytes of the current event; valid until Next().
  virtual std::string_view bytes() const = 0;
  virtual const fb::EventEnvelope* envelope() const = 0;
  // OK at a clean end; Corruption with seq() when a value failed verification.
  virtual Status status() const = 0;
};

struct Snapshot {
  uint64_t seq = 0;
  std::string blob;
};

// What the log has written since it was opened, and whether it refuses
// appends now; atomics, cheap to read from any thread (metrics).
struct WriteCounters {
  uint64_t group_writes = 0;     // RocksDB writes of appended events (one per group commit)
  uint64_t synced_writes = 0;    // writes fsynced before they returned: group commits under
                                 // Durability::kSync, snapshots and checkpoints
  uint64_t appended_events = 0;
  // Why appends are refused now (see Append's Unavailable); kNone while they
  // are accepted.
  enum class Fault : uint8_t { kNone, kDiskFull, kIoError } fault = Fault::kNone;
};

struct LogStats {
  uint64_t last_seq = 0;
  uint64_t event_count = 0;
  uint64_t bytes_on_disk = 0;  // SST and WAL files of the log directory
};

class EventLog {
 public:
  // Opens (or creates, see options) the log in dir.
  // Busy: another process holds the directory as writer.
  // NotFound: no log in dir and create_if_missing is false or mode is a reader.
  // Corruption: the newest stored event fails verification (a writer cannot
  // extend a broken chain; open a reader and run Verify).
  static Status Open(const std::string& dir, const LogOptions& options,
                     std::unique_ptr<EventLog>* log);

  virtual ~EventLog() = default;
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends a batch of events of one stream, all or nothing, with the stream
  // index, in one RocksDB write. Each element of events is an EventEnvelope
  // buffer built by noodle::FinishEvent (seq, version and hashes are assigned
  // here; the buffers are moved in and handed back, filled, in result).
  // Returns after the write is durable per options.durability.
  //   Conflict: expected_version is not the stream's version (the message
  //     names the stream, the expected and the actual version); nothing written.
  //   InvalidArgument: a buffer fails verification, its stream differs from
  //     stream, or the batch is empty; nothing written. Also when the first
  //     event id is already stored but the events differ (count, ids, order
  //     or stream): a new batch must not reuse an id.
  //   OK with result->duplicate: this batch was already appended (retry after
  //     a lost reply); nothing written, the original seqs are returned. The
  //     idempotency key is the batch's first event id, checked with one
  //     lookup per batch; a retry resends the same events in the same order.
  //   NotSupported: the log was opened as a reader.
  //   Unavailable: the log cannot be written now ("disk full: ..." when the
  //     filesystem is full or below options.reserve_free_bytes, "I/O error:
  //     ..." otherwise); nothing was written. Reads keep working, and a later
  //     Append or Writable() retries on its own (see Writable).
  virtual Status Append(std::string_view stream, uint64_t expected_version,
                        std::vector<std::string> events, AppendResult* result) = 0;

  // Appends several batches (of one or more streams) with the same rules as
  // Append, in order, and in as few RocksDB writes as group commit allows
  // (usually one): a single writer with many streams pays one fsync, not one
  // per stream. Each batch succeeds or fails on its own (its status); a later
  // batch is not undone by an earlier one's Conflict. Returns the first
  // non-OK batch status, or OK when every batch was appended.
  virtual Status AppendMany(std::vector<BatchAppend>* batches) = 0;

  // The event at seq. NotFound if seq is 0 or beyond LastSeq().
  virtual Result<StoredEvent> Read(uint64_t seq) const = 0;

  // Events with from <= seq <= to (to = UINT64_MAX: to the end), in order.
  virtual std::unique_ptr<LogIterator> Scan(uint64_t from, uint64_t to = UINT64_MAX) const = 0;

  // Events of one stream with version >= from_version, at most max_count.
  virtual Status ReadStream(std::string_view stream, uint64_t from_version, size_t max_count,
                            std::vector<StoredEvent>* out) const = 0;

  // The stream's current version (0: no such stream).
  virtual Result<uint64_t> StreamVersion(std::string_view stream) const = 0;

  // Highest durable seq (0 for an empty log).
  virtual uint64_t LastSeq() const = 0;

  // Recomputes the hash chain over [from, to] and checks that seqs are gapless.
  // OK when it holds; Corruption with the first bad seq and why otherwise.
  // checked (optional) receives the number of events examined.
  virtual Status Verify(uint64_t from, uint64_t to, uint64_t* checked = nullptr) const = 0;

  // Projection snapshots and checkpoints, keyed by projection name.
  // Writes are synced. NotSupported in reader modes.
  virtual Status PutSnapshot(std::string_view projection, uint64_t seq, std::string_view blob) = 0;
  // The newest snapshot with seq <= at_or_below. NotFound when there is none.
  virtual Result<Snapshot> GetSnapshot(std::string_view projection, uint64_t at_or_below) const = 0;
  virtual Status PutCheckpoint(std::string_view projection, uint64_t seq) = 0;
  // NotFound when the projection has none.
  virtual Result<uint64_t> GetCheckpoint(std::string_view projection) const = 0;

  // Whether appends can be expected to succeed. OK while they do;
  // Unavailable (as Append returns it) after a write failed, until a retry
  // succeeds. While unavailable, a call retries (at most once per
  // options.retry_interval_ms): once the filesystem has room again it
  // reopens RocksDB and returns OK. Reads are not blocked except during the
  // reopen itself (a few milliseconds). NotSupported in reader modes.
  virtual Status Writable() = 0;

  // Bytes free to this process on the log's filesystem (statvfs f_bavail).
  virtual Result<uint64_t> FreeBytes() const = 0;

  // Secondary mode: makes the writer's newer events visible. OK elsewhere.
  virtual Status CatchUp() = 0;

  virtual Result<LogStats> Stats() const = 0;
  virtual WriteCounters Counters() const = 0;

 protected:
  EventLog() = default;
};

}  // namespace noodle::store
