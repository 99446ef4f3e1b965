// Opening and closing the log: RocksDB options, column families, modes.
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <cstdarg>
#include <cstdlib>
#include <cstring>
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

// Memtable size per family. The events take the write buffer. An index
// entry is ~60 bytes per appended batch, so a quarter of it holds hundreds of
// thousands. Snapshots are blobs of megabytes written every few thousand
// events and read at start: kept in memory they would fill a full-size
// memtable with data nobody reads, so they (and the tiny meta family) get a
// small one and are flushed soon.
size_t WriteBufferFor(size_t family, const LogOptions& o) {
  constexpr size_t kMin = 1u << 20, kSmall = 4u << 20;
  switch (family) {
    case kEventsCf: return o.write_buffer_bytes;
    case kStreamsCf:
    case kEventIdsCf: return std::max(o.write_buffer_bytes / 4, std::min(o.write_buffer_bytes, kMin));
    default: return std::min(o.write_buffer_bytes, kSmall);
  }
}

// LZ4 when this RocksDB has it (tables already written keep their own
// compression, so either reads back), else RocksDB's default.
rocksdb::CompressionType ScanCompression() {
  for (rocksdb::CompressionType c : rocksdb::GetSupportedCompressions()) {
    if (c == rocksdb::kLZ4Compression) return c;
  }
  return rocksdb::ColumnFamilyOptions().compression;
}

std::vector<rocksdb::ColumnFamilyDescriptor> Families(const LogOptions& o) {
  rocksdb::BlockBasedTableOptions plain;
  plain.block_cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  // Point lookups by key (event ids, stream heads) mostly miss on append:
  // bloom filters answer those misses without reading blocks.
  rocksdb::BlockBasedTableOptions filtered = plain;
  filtered.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));

  // Events are mostly read in order (rebuilds, replay, audits): larger
  // blocks and LZ4, which decompresses several times faster than Snappy,
  // cut a scan's cost per event by a fifth (callgrind, engine_bench's fold).
  rocksdb::BlockBasedTableOptions events = plain;
  events.block_size = 16u << 10;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions cf;
    cf.write_buffer_size = WriteBufferFor(i, o);
    // The small families switch memtables often (a snapshot may fill one):
    // room for several waiting on the flush thread, so that they never stall
    // the log's writes.
    cf.max_write_buffer_number = WriteBufferFor(i, o) < o.write_buffer_bytes / 4 ? 4 : 3;
    cf.level_compaction_dynamic_level_bytes = true;
    const bool lookups = i == kEventIdsCf || i == kStreamsCf;
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(i == kEventsCf ? events : lookups ? filtered : plain));
    if (i == kEventsCf) cf.compression = ScanCompression();
    if (lookups) {
      cf.memtable_prefix_bloom_size_ratio = 0.05;
      cf.memtable_whole_key_filtering = true;
    }
    cfs.emplace_back(kCfNames[i], cf);
  }
  return cfs;
}

// RocksDB's diagnostics go to our log, not to a LOG file in the data
// directory: a LOG file that hits a full disk makes Debian's librocksdb
// (built with assertions) abort on its next line.
class SpdlogLogger final : public rocksdb::Logger {
 public:
  explicit SpdlogLogger(std::string dir) : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), dir_(std::move(dir)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char line[1024];
    vsnprintf(line, sizeof line, format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) spdlog::error("rocksdb {}: {}", dir_, line);
    else spdlog::warn("rocksdb {}: {}", dir_, line);
  }

 private:
  const std::string dir_;
};

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

  if (Status s = writable() ? OpenDbGivingUpBallast() : OpenDb(); !s.ok()) return s;
  if (healthy_.load()) WriteBallast();
  return LoadTail();
}

Status RocksEventLog::OpenDb() {
  rocksdb::DBOptions db;
  db.create_if_missing = options_.create_if_missing;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.bytes_per_sync = 1 << 20;
  db.info_log = std::make_shared<SpdlogLogger>(dir_);
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.db_write_buffer_size = options_.memtable_budget_bytes;
  // Recovery keeps the WAL's events in memory instead of writing a table:
  // a reopen after a full disk needs no room beyond a new WAL and manifest.
  db.avoid_flush_during_recovery = true;
  // RocksDB's default (4 MB, allocated at every open) would eat the ballast
  // that lets a full disk open at all; the manifest grows by a few hundred
  // bytes per flush.
  db.manifest_preallocation_size = 256u << 10;

  auto cfs = Families(options_);
  rocksdb::Status rs;
  switch (options_.mode) {
    case OpenMode::kReadWrite: {
      std::error_code ec;
      if (options_.create_if_missing) fs::create_directories(dir_, ec);  // RocksDB would log the missing dir
      rs = rocksdb::DB::Open(db, dir_, cfs, &handles_, &db_);
      if (rs.IsIOError() && rs.ToString().find("lock") != std::string::npos) {
        return Status::Busy("event log " + dir_ + " is held by another writer (" + rs.ToString() + ")");
      }
      break;
    }
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
  if (!rs.ok()) {
    for (auto* h : handles_) delete h;
    handles_.clear();
    db_ = nullptr;
    return FromRocks(rs, "open " + dir_);
  }
  return Status::OK();
}

void RocksEventLog::CloseDb() {
  if (db_ == nullptr) return;
  // No WAL sync after a failed write: the writer that failed must not be
  // touched again, and what it was given was never acknowledged.
  if (writable() && healthy_.load() && !rocks_failed_) db_->FlushWAL(/*sync=*/true).PermitUncheckedError();
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  handles_.clear();
  db_->Close().PermitUncheckedError();
  delete db_;
  db_ = nullptr;
}

Status RocksEventLog::LockDb(std::shared_lock<std::shared_timed_mutex>* lock) const {
  *lock = std::shared_lock<std::shared_timed_mutex>(db_mu_);
  if (db_ == nullptr) return Status::Unavailable("event log " + dir_ + " is closed (reopening after a write failure)");
  return Status::OK();
}

Result<uint64_t> RocksEventLog::FreeBytes() const {
  struct statvfs st {};
  if (statvfs(dir_.c_str(), &st) != 0) return Status::IOError("statvfs " + dir_ + ": " + std::strerror(errno));
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
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
  std::shared_lock<std::shared_timed_mutex> lock;
  if (Status s = LockDb(&lock); !s.ok()) return s;
  Status s = FromRocks(db_->TryCatchUpWithPrimary(), "catch up with writer");
  if (!s.ok()) return s;
  return LoadTail();
}

RocksEventLog::~RocksEventLog() {
  CloseDb();
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

WriteCounters RocksEventLog::Counters() const {
  WriteCounters c;
  c.group_writes = group_writes_.load(std::memory_order_relaxed);
  c.synced_writes = synced_writes_.load(std::memory_order_relaxed);
  c.appended_events = appended_events_.load(std::memory_order_relaxed);
  c.fault = fault_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace noodle::store
