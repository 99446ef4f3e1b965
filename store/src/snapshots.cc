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
  return FromRocks(db_->Put(Synced(), cf(kSnapshotsCf), keys::NamedSeq(projection, seq), blob), "put snapshot");
}

Result<Snapshot> RocksEventLog::GetSnapshot(std::string_view projection, uint64_t at_or_below) const {
  const std::string prefix = keys::NamedSeq(projection, 0).substr(0, projection.size() + 1);
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
  return FromRocks(db_->Put(Synced(), cf(kMetaCf), keys::Checkpoint(projection), keys::Seq(seq)), "put checkpoint");
}

Result<uint64_t> RocksEventLog::GetCheckpoint(std::string_view projection) const {
  std::string value;
  rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), cf(kMetaCf), keys::Checkpoint(projection), &value);
  if (rs.IsNotFound()) return Status::NotFound("no checkpoint of '" + std::string(projection) + "'");
  if (!rs.ok()) return FromRocks(rs, "get checkpoint");
  if (value.size() != 8) return Status::Corruption("checkpoint of '" + std::string(projection) + "' is malformed");
  return keys::GetBE64(value);
}

}  // namespace noodle::store
