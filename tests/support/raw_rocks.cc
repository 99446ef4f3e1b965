#include "raw_rocks.h"

#include <cstdlib>
#include <iostream>

namespace noodle::test {

std::string SeqKey(uint64_t seq) {
  std::string k;
  for (int shift = 56; shift >= 0; shift -= 8) k.push_back(static_cast<char>(seq >> shift));
  return k;
}

static void Check(const rocksdb::Status& s) {
  if (!s.ok()) {
    std::cerr << "raw RocksDB: " << s.ToString() << "\n";
    std::abort();
  }
}

RawLog::RawLog(const std::string& dir) {
  Check(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names_));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names_) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  Check(rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles_, &db_));
}

RawLog::~RawLog() {
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db_->Close().PermitUncheckedError();
  delete db_;
}

rocksdb::ColumnFamilyHandle* RawLog::events() const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == "events") return handles_[i];
  }
  std::abort();
}

std::string RawLog::Get(uint64_t seq) {
  std::string v;
  Check(db_->Get(rocksdb::ReadOptions(), events(), SeqKey(seq), &v));
  return v;
}

void RawLog::Put(uint64_t seq, const std::string& value) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  Check(db_->Put(wo, events(), SeqKey(seq), value));
}

void RawLog::Delete(uint64_t seq) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  Check(db_->Delete(wo, events(), SeqKey(seq)));
}

void RawLog::FlushAll() {
  for (auto* h : handles_) Check(db_->Flush(rocksdb::FlushOptions(), h));
}

}  // namespace noodle::test
