// Reading the log: point reads, scans, streams. Every value passes the
// FlatBuffers Verifier and must carry the seq it is stored under.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include "keys.h"
#include "noodle/envelope.h"
#include "rocks_log.h"

namespace noodle::store {

const fb::EventEnvelope* StoredEvent::envelope() const { return fb::GetEventEnvelope(bytes.data()); }

namespace {

// Why a stored value is unusable, or empty when it is sound.
std::string CheckStored(uint64_t seq, std::string_view bytes) {
  const auto* env = VerifyEnvelope(bytes);
  if (env == nullptr) return "value fails FlatBuffers verification (" + std::to_string(bytes.size()) + " bytes)";
  if (env->seq() != seq) return "value carries seq " + std::to_string(env->seq());
  return {};
}

// A RocksDB iterator over the events family from `from`, bounded by `to`.
class Range {
 public:
  Range(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t from, uint64_t to)
      : upper_(keys::Seq(to == UINT64_MAX ? to : to + 1)), upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    if (to != UINT64_MAX) ro.iterate_upper_bound = &upper_slice_;
    ro.readahead_size = 2u << 20;  // scans are sequential: read ahead in big chunks
    ro.fill_cache = false;         // a full scan would only evict hot blocks
    it_.reset(db->NewIterator(ro, cf));
    it_->Seek(keys::Seq(from));
  }
  rocksdb::Iterator& it() { return *it_; }
  // Why the range ended after `seq` (OK at a clean end).
  Status End(uint64_t seq) const {
    if (it_->status().ok()) return Status::OK();
    return Status::Corruption("scan after seq " + std::to_string(seq) + ": " + it_->status().ToString(), seq + 1);
  }

 private:
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

class ScanIterator final : public LogIterator {
 public:
  // lock: shared on the log's DB for the iterator's life (a reopen waits).
  ScanIterator(std::shared_lock<std::shared_timed_mutex> lock, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
               uint64_t from, uint64_t to)
      : lock_(std::move(lock)), range_(db, cf, from, to) {
    Check();
  }
  bool Valid() const override { return valid_; }
  void Next() override {
    range_.it().Next();
    Check();
  }
  uint64_t seq() const override { return seq_; }
  std::string_view bytes() const override { return bytes_; }
  const fb::EventEnvelope* envelope() const override { return fb::GetEventEnvelope(bytes_.data()); }
  Status status() const override { return status_; }

 private:
  void Check() {
    valid_ = false;
    rocksdb::Iterator& it = range_.it();
    if (!it.Valid()) {
      status_ = range_.End(seq_);
      return;
    }
    seq_ = keys::GetBE64(it.key().ToStringView());
    bytes_ = keys::AlignedView(it.value().ToStringView(), &copy_);
    if (std::string why = CheckStored(seq_, bytes_); !why.empty()) {
      status_ = Status::Corruption(why, seq_);
      return;
    }
    valid_ = true;
  }

  std::shared_lock<std::shared_timed_mutex> lock_;
  Range range_;
  std::string copy_;        // reused: holds a value whose address was misaligned
  std::string_view bytes_;  // the current value, 8-byte aligned
  uint64_t seq_ = 0;
  bool valid_ = false;
  Status status_;
};

// Stored values, copied out of RocksDB at 8-byte aligned offsets.
struct Batch {
  struct Slot {
    uint64_t seq;
    size_t offset, size;
  };
  std::string data;
  std::vector<Slot> slots;
  bool end = false;  // the scan's last batch; status says why it ended
  Status status;
  bool verified = false;  // else the caller verifies each value as it reaches it
  // The value that failed verification (then the batch's last), and why.
  size_t bad = SIZE_MAX;
  std::string why;
};

// A long scan reads ahead on a thread of its own, a batch at a time, while
// the caller folds the batch before: a rebuild takes the longer of the two
// instead of their sum. The Verifier runs on whichever side has time: the
// reader verifies a batch while the caller still has one queued, and leaves
// it to the caller (each value as it is reached) when the caller is waiting.
// Same events, same checks, same order as ScanIterator: the caller gets
// every event before a value that fails, then the scan ends with that
// value's Corruption status.
class PrefetchScan final : public LogIterator {
 public:
  PrefetchScan(std::shared_lock<std::shared_timed_mutex> lock, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
               uint64_t from, uint64_t to)
      : lock_(std::move(lock)), range_(db, cf, from, to) {
    try {
      thread_ = std::thread([this] { Produce(); });
    } catch (const std::system_error&) {
      // No thread to spare: the batches are read on demand instead.
    }
    Take();
    Check();
  }
  ~PrefetchScan() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    space_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  bool Valid() const override { return failed_.ok() && slot_ < batch_.slots.size(); }
  void Next() override {
    if (!Valid()) return;
    last_seq_ = batch_.slots[slot_].seq;
    if (++slot_ >= batch_.slots.size() && !batch_.end) Take();
    Check();
  }
  uint64_t seq() const override { return Valid() ? batch_.slots[slot_].seq : last_seq_; }
  std::string_view bytes() const override {
    if (!Valid()) return {};
    const Batch::Slot& s = batch_.slots[slot_];
    return std::string_view(batch_.data.data() + s.offset, s.size);
  }
  const fb::EventEnvelope* envelope() const override { return fb::GetEventEnvelope(bytes().data()); }
  Status status() const override {
    if (!failed_.ok()) return failed_;
    return Valid() || !batch_.end ? Status::OK() : batch_.status;
  }

 private:
  static constexpr size_t kBatchEvents = 1024, kBatchBytes = 512u << 10, kQueued = 4;

  // The event reached: the caller never sees one that failed verification.
  void Check() {
    if (!Valid()) return;
    const Batch::Slot& slot = batch_.slots[slot_];
    if (batch_.verified) {
      if (slot_ == batch_.bad) failed_ = Status::Corruption(batch_.why, slot.seq);
    } else if (std::string why = CheckStored(slot.seq, bytes()); !why.empty()) {
      failed_ = Status::Corruption(why, slot.seq);
    }
    if (!failed_.ok()) last_seq_ = slot.seq;
  }

  // Reads the next batch of values, each copied to an 8-byte aligned offset
  // (and verified, when `verify`).
  void Fill(Batch* b, bool verify) {
    b->data.clear();
    b->slots.clear();
    b->end = false;
    b->verified = verify;
    b->bad = SIZE_MAX;
    rocksdb::Iterator& it = range_.it();
    for (; it.Valid() && b->slots.size() < kBatchEvents && b->data.size() < kBatchBytes; it.Next()) {
      const uint64_t seq = keys::GetBE64(it.key().ToStringView());
      const size_t offset = (b->data.size() + 7) & ~size_t{7};
      const std::string_view value = it.value().ToStringView();
      b->data.resize(offset);
      b->data.append(value);
      b->slots.push_back({seq, offset, value.size()});
      produced_seq_ = seq;
      if (!verify) continue;
      if (std::string why = CheckStored(seq, std::string_view(b->data.data() + offset, value.size())); !why.empty()) {
        // Nothing after it is read: the caller stops there.
        b->bad = b->slots.size() - 1;
        b->why = std::move(why);
        b->end = true;
        return;
      }
    }
    if (!it.Valid()) {
      b->end = true;
      b->status = range_.End(produced_seq_);
    }
  }

  void Produce() {
    while (true) {
      Batch b;
      bool verify;
      {
        std::unique_lock<std::mutex> l(mu_);
        space_.wait(l, [this] { return stop_ || queue_.size() < kQueued; });
        if (stop_) return;
        if (!spare_.empty()) {
          b = std::move(spare_.back());
          spare_.pop_back();
        }
        verify = !queue_.empty();  // the caller has a batch to fold meanwhile
      }
      Fill(&b, verify);
      const bool end = b.end;
      {
        std::lock_guard<std::mutex> l(mu_);
        queue_.push_back(std::move(b));
      }
      ready_.notify_one();
      if (end) return;
    }
  }

  // Moves on to the next batch (waiting for it); the finished one is reused.
  void Take() {
    slot_ = 0;
    if (!thread_.joinable()) {
      Fill(&batch_, /*verify=*/true);
      return;
    }
    std::unique_lock<std::mutex> l(mu_);
    ready_.wait(l, [this] { return !queue_.empty(); });
    spare_.push_back(std::move(batch_));
    batch_ = std::move(queue_.front());
    queue_.pop_front();
    l.unlock();
    space_.notify_one();
  }

  std::shared_lock<std::shared_timed_mutex> lock_;
  Range range_;
  uint64_t produced_seq_ = 0;  // the producer's: last seq it read

  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Batch> queue_;   // read, not yet taken
  std::vector<Batch> spare_;  // taken and done with: their memory is reused
  bool stop_ = false;

  Batch batch_;  // the consumer's
  size_t slot_ = 0;
  Status failed_;  // the event reached did not verify: the scan ends there
  uint64_t last_seq_ = 0;  // the last event the caller moved past
  std::thread thread_;  // last: started once everything it uses exists
};

// A scan that could not start: no events, its status says why.
class FailedScan final : public LogIterator {
 public:
  explicit FailedScan(Status s) : status_(std::move(s)) {}
  bool Valid() const override { return false; }
  void Next() override {}
  uint64_t seq() const override { return 0; }
  std::string_view bytes() const override { return {}; }
  const fb::EventEnvelope* envelope() const override { return nullptr; }
  Status status() const override { return status_; }

 private:
  Status status_;
};

}  // namespace

Result<StoredEvent> RocksEventLog::Read(uint64_t seq) const {
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return s;
  return ReadLocked(seq);
}

Result<StoredEvent> RocksEventLog::ReadLocked(uint64_t seq) const {
  StoredEvent ev;
  ev.seq = seq;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), cf(kEventsCf), keys::Seq(seq), &ev.bytes);
  if (rs.IsNotFound()) return Status::NotFound("no event at seq " + std::to_string(seq));
  if (!rs.ok()) return Status::Corruption("read: " + rs.ToString(), seq);
  if (std::string why = CheckStored(seq, ev.bytes); !why.empty()) return Status::Corruption(why, seq);
  return ev;
}

std::unique_ptr<LogIterator> RocksEventLog::Scan(uint64_t from, uint64_t to) const {
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return std::make_unique<FailedScan>(std::move(s));
  from = std::max<uint64_t>(from, 1);
  // Below this many events a thread costs more than it saves.
  constexpr uint64_t kPrefetchFrom = 16'384;
  const uint64_t last = std::min(to, LastSeq());
  if (last >= from && last - from >= kPrefetchFrom) {
    return std::make_unique<PrefetchScan>(std::move(lock), db_, cf(kEventsCf), from, to);
  }
  return std::make_unique<ScanIterator>(std::move(lock), db_, cf(kEventsCf), from, to);
}

namespace {
// The stream's index entry under the iterator, if it belongs to the stream.
bool StreamEntry(const rocksdb::Iterator& it, std::string_view prefix, uint64_t* first_version, keys::BatchRef* ref) {
  if (!it.Valid() || !it.key().starts_with(prefix) || it.key().size() != prefix.size() + 8) return false;
  *first_version = keys::GetBE64(it.key().ToStringView().substr(prefix.size()));
  return keys::DecodeBatchRef(it.value().ToStringView(), ref);
}

std::string StreamPrefix(std::string_view stream) { return std::string(stream) + '\0'; }
}  // namespace

Result<uint64_t> RocksEventLog::StreamVersion(std::string_view stream) const {
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return s;
  return StreamVersionLocked(stream);
}

Result<uint64_t> RocksEventLog::StreamVersionLocked(std::string_view stream) const {
  // A stream's first batch is indexed at version 1, so a stream without that
  // entry is empty: a point lookup, which the bloom filters mostly answer
  // without reading a block, instead of a seek for every new stream.
  rocksdb::PinnableSlice first;
  const rocksdb::Status fs = db_->Get(rocksdb::ReadOptions(), cf(kStreamsCf), keys::NamedSeq(stream, 1), &first);
  if (fs.IsNotFound()) return uint64_t{0};
  if (!fs.ok()) return FromRocks(fs, "stream version");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kStreamsCf)));
  it->SeekForPrev(keys::NamedSeq(stream, UINT64_MAX));
  if (!it->status().ok()) return FromRocks(it->status(), "stream version");
  uint64_t first_version = 0;
  keys::BatchRef ref;
  if (!StreamEntry(*it, StreamPrefix(stream), &first_version, &ref)) return uint64_t{0};
  return first_version + ref.count - 1;
}

Status RocksEventLog::ReadStream(std::string_view stream, uint64_t from_version, size_t max_count,
                                 std::vector<StoredEvent>* out) const {
  out->clear();
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return s;
  from_version = std::max<uint64_t>(from_version, 1);
  const std::string prefix = StreamPrefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kStreamsCf)));
  // Start at the batch that holds from_version, or the first one after it.
  uint64_t first_version = 0;
  keys::BatchRef ref;
  it->SeekForPrev(keys::NamedSeq(stream, from_version));
  if (!StreamEntry(*it, prefix, &first_version, &ref) || first_version + ref.count <= from_version) {
    it->Seek(keys::NamedSeq(stream, from_version));
  }
  for (; StreamEntry(*it, prefix, &first_version, &ref) && out->size() < max_count; it->Next()) {
    for (uint64_t v = std::max(first_version, from_version); v < first_version + ref.count && out->size() < max_count;
         ++v) {
      auto ev = ReadLocked(ref.first_seq + (v - first_version));
      if (!ev.ok()) return ev.status();
      out->push_back(std::move(ev.value()));
    }
  }
  return FromRocks(it->status(), "read stream");
}

}  // namespace noodle::store
