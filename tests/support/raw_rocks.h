// Direct RocksDB access to a log directory, for tests that tamper with
// stored values the way an attacker or a bad disk would.
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <vector>

namespace noodle::test {

class RawLog {
 public:
  // Opens dir with all its column families; aborts the test on failure.
  explicit RawLog(const std::string& dir);
  ~RawLog();
  std::string Get(uint64_t seq);
  void Put(uint64_t seq, const std::string& value);  // synced
  void Delete(uint64_t seq);
  void FlushAll();  // memtables to SST files

 private:
  rocksdb::ColumnFamilyHandle* events() const;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<std::string> names_;
};

std::string SeqKey(uint64_t seq);

}  // namespace noodle::test
