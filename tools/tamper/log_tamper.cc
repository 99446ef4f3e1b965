// log-tamper DIR SEQ: flips one byte in the middle of the stored value of
// SEQ, bypassing the log, the way a bad disk or an intruder would. For audit
// drills: `upgradectl log verify` must then name SEQ. Never use on a real log.
#include <rocksdb/db.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "version.h"

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "log-tamper")) return 0;
  if (argc != 3) {
    std::fprintf(stderr, "usage: log-tamper DIR SEQ\n");
    return 2;
  }
  const uint64_t seq = std::strtoull(argv[2], nullptr, 10);
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), argv[1], &names);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (s.ok()) s = rocksdb::DB::Open(rocksdb::DBOptions(), argv[1], cfs, &handles, &db);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  for (size_t i = 0; s.ok() && i < names.size(); ++i) {
    if (names[i] == "events") events = handles[i];
  }
  std::string key, value;
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(seq >> shift));
  if (s.ok() && events == nullptr) s = rocksdb::Status::NotFound("no events column family");
  if (s.ok()) s = db->Get(rocksdb::ReadOptions(), events, key, &value);
  if (s.ok()) {
    value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x01);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, events, key, value);
  }
  if (!s.ok()) std::fprintf(stderr, "log-tamper: %s\n", s.ToString().c_str());
  else std::printf("flipped one bit of seq %llu (byte %zu of %zu)\n", static_cast<unsigned long long>(seq),
                   value.size() / 2, value.size());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete db;
  return s.ok() ? 0 : 1;
}
