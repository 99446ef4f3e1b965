// Projection snapshots and checkpoints; opaque blobs keyed by projection.
#include "keys.h"
#include "rocks_log.h"

namespace noodle::store {
namespace {
rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}
}  // namespace

Status RocksEventLog::PutSnapshot(std::string_view projection, uint64_t seq, std::string_view blob) {
  if (!writable()) return Status::NotSupported("event log opened as a reader");
  if (projection.empty() || projection.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("invalid projection name");
  }
  return PutMeta(cf(kSnapshotsCf), keys::NamedSeq(projection, seq), blob, "put snapshot");
}

// Snapshots and checkpoints share the appends' health: refused while appends
// are, and a failed write makes appends retry too.
Status RocksEventLog::PutMeta(rocksdb::ColumnFamilyHandle* family, const std::string& key, std::string_view value,
                              std::string_view what) {
  std::lock_guard<std::mutex> health(recover_mu_);
  if (Status s = RecoverLocked(); !s.ok()) return s;
  if (Status s = CheckRoom(key.size() + value.size()); !s.ok()) return MarkFailed(s, /*rocks_failed=*/false);
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return s;
  rocksdb::Status rs = db_->Put(Synced(), family, key, value);
  if (rs.ok()) synced_writes_.fetch_add(1, std::memory_order_relaxed);
  if (rs.IsIOError()) return MarkFailed(WriteFailure(rs, what), /*rocks_failed=*/true);
  return FromRocks(rs, what);
}

Result<Snapshot> RocksEventLog::GetSnapshot(std::string_view projection, uint64_t at_or_below) const {
  const std::string prefix = keys::NamedSeq(projection, 0).substr(0, projection.size() + 1);
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return s;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kSnapshotsCf)));
  it->SeekForPrev(keys::NamedSeq(projection, at_or_below));
  if (!it->status().ok()) return FromRocks(it->status(), "get snapshot");
  if (!it->Valid() || !it->key().starts_with(prefix) || it->key().size() != prefix.size() + 8) {
    return Status::NotFound("no snapshot of '" + std::string(projection) + "' at or below seq " +
                            std::to_string(at_or_below));
  }
  Snapshot snap;
  snap.seq = keys::GetBE64(it->key().ToStringView().substr(prefix.size()));
  snap.blob = it->value().ToString();
  return snap;
}

Status RocksEventLog::PutCheckpoint(std::string_view projection, uint64_t seq) {
  if (!writable()) return Status::NotSupported("event log opened as a reader");
  return PutMeta(cf(kMetaCf), keys::Checkpoint(projection), keys::Seq(seq), "put checkpoint");
}

Result<uint64_t> RocksEventLog::GetCheckpoint(std::string_view projection) const {
  std::string value;
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return s;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), cf(kMetaCf), keys::Checkpoint(projection), &value);
  if (rs.IsNotFound()) return Status::NotFound("no checkpoint of '" + std::string(projection) + "'");
  if (!rs.ok()) return FromRocks(rs, "get checkpoint");
  if (value.size() != 8) return Status::Corruption("checkpoint of '" + std::string(projection) + "' is malformed");
  return keys::GetBE64(value);
}

}  // namespace noodle::store
