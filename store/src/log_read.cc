#include <algorithm>
// Reading the log: point reads, scans, streams. Every value passes the
// FlatBuffers Verifier and must carry the seq it is stored under.
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

class ScanIterator final : public LogIterator {
 public:
  // lock: shared on the log's DB for the iterator's life (a reopen waits).
  ScanIterator(std::shared_lock<std::shared_timed_mutex> lock, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
               uint64_t from, uint64_t to)
      : lock_(std::move(lock)), upper_(keys::Seq(to == UINT64_MAX ? to : to + 1)), upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    if (to != UINT64_MAX) ro.iterate_upper_bound = &upper_slice_;
    ro.readahead_size = 2u << 20;  // scans are sequential: read ahead in big chunks
    ro.fill_cache = false;         // a full scan would only evict hot blocks
    it_.reset(db->NewIterator(ro, cf));
    it_->Seek(keys::Seq(from));
    Check();
  }
  bool Valid() const override { return valid_; }
  void Next() override {
    it_->Next();
    Check();
  }
  uint64_t seq() const override { return seq_; }
  std::string_view bytes() const override { return bytes_; }
  const fb::EventEnvelope* envelope() const override { return fb::GetEventEnvelope(bytes_.data()); }
  Status status() const override { return status_; }

 private:
  void Check() {
    valid_ = false;
    if (!it_->Valid()) {
      if (!it_->status().ok()) status_ = Status::Corruption("scan after seq " + std::to_string(seq_) + ": " +
                                                            it_->status().ToString(), seq_ + 1);
      return;
    }
    seq_ = keys::GetBE64(it_->key().ToStringView());
    bytes_ = keys::AlignedView(it_->value().ToStringView(), &copy_);
    if (std::string why = CheckStored(seq_, bytes_); !why.empty()) {
      status_ = Status::Corruption(why, seq_);
      return;
    }
    valid_ = true;
  }

  std::shared_lock<std::shared_timed_mutex> lock_;
  std::string upper_;
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::string copy_;        // reused: holds a value whose address was misaligned
  std::string_view bytes_;  // the current value, 8-byte aligned
  uint64_t seq_ = 0;
  bool valid_ = false;
  Status status_;
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
  return std::make_unique<ScanIterator>(std::move(lock), db_, cf(kEventsCf), from == 0 ? 1 : from, to);
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
