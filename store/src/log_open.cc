// Opening and closing the log: RocksDB options, column families, modes.
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <cstdlib>
#include <filesystem>

#include "keys.h"
#include "noodle/envelope.h"
#include "rocks_log.h"

namespace noodle::store {
namespace fs = std::filesystem;

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::OK();
  std::string m = std::string(what) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(std::move(m));
  if (s.IsCorruption()) return Status::Corruption(std::move(m));
  if (s.IsInvalidArgument()) return Status::InvalidArgument(std::move(m));
  if (s.IsNotSupported()) return Status::NotSupported(std::move(m));
  return Status::IOError(std::move(m));
}

namespace {

const char* const kCfNames[kCfCount] = {rocksdb::kDefaultColumnFamilyName.c_str(), "events",
                                        "streams", "event_ids", "snapshots", "meta"};

std::vector<rocksdb::ColumnFamilyDescriptor> Families(const LogOptions& o) {
  rocksdb::BlockBasedTableOptions plain;
  plain.block_cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  // Point lookups by key (event ids, stream heads) mostly miss on append:
  // bloom filters answer those misses without reading blocks.
  rocksdb::BlockBasedTableOptions filtered = plain;
  filtered.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions cf;
    cf.write_buffer_size = o.write_buffer_bytes;
    cf.max_write_buffer_number = 3;
    cf.level_compaction_dynamic_level_bytes = true;
    const bool lookups = i == kEventIdsCf || i == kStreamsCf;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(lookups ? filtered : plain));
    if (lookups) {
      cf.memtable_prefix_bloom_size_ratio = 0.05;
      cf.memtable_whole_key_filtering = true;
    }
    cfs.emplace_back(kCfNames[i], cf);
  }
  return cfs;
}

}  // namespace

Status EventLog::Open(const std::string& dir, const LogOptions& options,
                      std::unique_ptr<EventLog>* log) {
  auto impl = std::make_unique<RocksEventLog>(dir, options);
  Status s = impl->Init();
  if (!s.ok()) return s;
  *log = std::move(impl);
  return Status::OK();
}

Status RocksEventLog::Init() {
  std::error_code ec;
  const bool exists = fs::exists(fs::path(dir_) / "CURRENT", ec);
  if (!exists && (!writable() || !options_.create_if_missing)) {
    return Status::NotFound("no event log in " + dir_);
  }

  rocksdb::DBOptions db;
  db.create_if_missing = options_.create_if_missing;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.bytes_per_sync = 1 << 20;
  db.keep_log_file_num = 4;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;

  auto cfs = Families(options_);
  rocksdb::Status rs;
  switch (options_.mode) {
    case OpenMode::kReadWrite:
      rs = rocksdb::DB::Open(db, dir_, cfs, &handles_, &db_);
      if (rs.IsIOError() && rs.ToString().find("lock") != std::string::npos) {
        return Status::Busy("event log " + dir_ + " is held by another writer (" + rs.ToString() + ")");
      }
      break;
    case OpenMode::kReadOnly:
      rs = rocksdb::DB::OpenForReadOnly(db, dir_, cfs, &handles_, &db_);
      break;
    case OpenMode::kSecondary: {
      secondary_dir_ = options_.secondary_dir;
      if (secondary_dir_.empty()) {
        std::string tmpl = (fs::temp_directory_path() / "noodle-secondary-XXXXXX").string();
        if (mkdtemp(tmpl.data()) == nullptr) return Status::IOError("cannot create secondary dir");
        secondary_dir_ = tmpl;
      }
      db.max_open_files = -1;  // required by RocksDB for secondaries
      rs = rocksdb::DB::OpenAsSecondary(db, dir_, secondary_dir_, cfs, &handles_, &db_);
      break;
    }
  }
  if (!rs.ok()) return FromRocks(rs, "open " + dir_);
  return LoadTail();
}

Status RocksEventLog::LoadTail() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEventsCf)));
  it->SeekToLast();
  if (!it->status().ok()) return FromRocks(it->status(), "read log tail");
  if (!it->Valid()) {
    last_seq_.store(0, std::memory_order_release);
    last_hash_ = Digest{};
    return Status::OK();
  }
  const uint64_t seq = keys::GetBE64(it->key().ToStringView());
  std::string scratch;
  const std::string_view bytes = keys::AlignedView(it->value().ToStringView(), &scratch);
  const auto* env = VerifyEnvelope(bytes);
  if (env == nullptr || env->seq() != seq) {
    if (writable()) {
      return Status::Corruption("newest event fails verification; refusing to extend the chain", seq);
    }
  } else {
    last_hash_ = ToDigest(env->hash());
  }
  last_seq_.store(seq, std::memory_order_release);
  return Status::OK();
}

Status RocksEventLog::CatchUp() {
  if (options_.mode != OpenMode::kSecondary) return Status::OK();
  Status s = FromRocks(db_->TryCatchUpWithPrimary(), "catch up with writer");
  if (!s.ok()) return s;
  return LoadTail();
}

RocksEventLog::~RocksEventLog() {
  if (db_ != nullptr) {
    if (writable()) db_->FlushWAL(/*sync=*/true).PermitUncheckedError();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
    delete db_;
  }
  if (!secondary_dir_.empty() && options_.secondary_dir.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
  }
}

Result<LogStats> RocksEventLog::Stats() const {
  LogStats st;
  st.last_seq = LastSeq();
  st.event_count = st.last_seq;  // seqs are gapless from 1 (Verify checks it)
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir_, ec)) {
    if (entry.is_regular_file(ec)) st.bytes_on_disk += entry.file_size(ec);
  }
  return st;
}

}  // namespace noodle::store
