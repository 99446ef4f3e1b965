// Options of the event log. Every field has a default; each says what it costs.
#pragma once

#include <cstddef>
#include <string>

namespace noodle::store {

enum class Durability {
  // Append returns after the batch is fsynced. Concurrent appenders are
  // grouped into one write and share one fsync (group commit), so the cost is
  // one fsync per group, not per event. An acknowledged event survives a crash
  // of the process and of the machine.
  kSync,
  // Append returns after the batch is in the OS page cache. Survives a crash
  // of the process, not of the machine; several times faster for small batches.
  kNoSync,
};

enum class OpenMode {
  // The one writer. Holds the directory's lock; a second writer gets Busy.
  kReadWrite,
  // A consistent view as of Open; no lock, never writes. For offline audits.
  kReadOnly,
  // Follows a live writer: CatchUp() makes newer events visible.
  kSecondary,
};

struct LogOptions {
  OpenMode mode = OpenMode::kReadWrite;
  Durability durability = Durability::kSync;

  // Create an empty log when the directory holds none (kReadWrite only).
  bool create_if_missing = true;

  // kSecondary: where the secondary keeps its own info log. Empty: a fresh
  // directory under the system temp dir, removed when the log is closed.
  std::string secondary_dir;

  // Memory for new events before they are flushed to disk, per memtable.
  // Larger means fewer, bigger flushes and more memory (up to 3x this).
  size_t write_buffer_bytes = 64u << 20;

  // All memtables of the log together (every column family, those being
  // flushed included) are kept near this: once they reach it the oldest is
  // flushed, however far it is from write_buffer_bytes. The bound on the
  // log's write memory whatever write_buffer_bytes says. 0: no bound beyond
  // the per-memtable sizes.
  size_t memtable_budget_bytes = 32u << 20;

  // Cache of uncompressed blocks for reads. Costs exactly this much memory.
  size_t block_cache_bytes = 32u << 20;

  // Appends are refused (Unavailable: disk full) while the log's filesystem
  // has less than this free, so RocksDB's own writes (flushes, its manifest)
  // still find room and the log recovers without a restart. 0: no margin;
  // then a full disk is met by RocksDB's write failing (also handled).
  size_t reserve_free_bytes = 1u << 20;

  // A file of this size is kept in the log's directory and given up when
  // RocksDB cannot open or reopen for lack of room, so that a daemon started
  // on a full disk still opens its log (and serves reads). Costs this much
  // disk; it is written again once there is room. 0: none.
  size_t ballast_bytes = 4u << 20;

  // While writes fail (disk full, I/O error), the log retries at most this
  // often: it checks for room and reopens RocksDB, whose failed write state
  // is otherwise permanent. Each retry costs a reopen (milliseconds).
  int retry_interval_ms = 500;

  // Most events one group commit may carry. Larger groups amortize the fsync
  // over more events but make the leader's followers wait longer.
  size_t max_group_events = 4096;
};

}  // namespace noodle::store
