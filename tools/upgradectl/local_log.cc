// noodle-log's half of local_log.h: RocksDB opened read-only.
#include "local_log.h"

#include <algorithm>
#include <memory>

#include "noodle/envelope.h"
#include "noodle/store/event_log.h"

namespace noodle::tools {
namespace {

Status OpenReadOnly(const std::string& data_dir, std::unique_ptr<store::EventLog>* log) {
  store::LogOptions o;
  o.mode = store::OpenMode::kReadOnly;
  return store::EventLog::Open(data_dir + "/log", o, log);
}

}  // namespace

Status VerifyLocalLog(const std::string& data_dir, uint64_t* checked, uint64_t* last, Status* chain) {
  std::unique_ptr<store::EventLog> log;
  if (Status s = OpenReadOnly(data_dir, &log); !s.ok()) return s;
  *last = log->LastSeq();
  *chain = log->Verify(1, UINT64_MAX, checked);
  return Status::OK();
}

Status LocalLogFacts(const std::string& data_dir, uint64_t seq, uint64_t* last, store::HeadHash* hash, bool* have) {
  *have = false;
  std::unique_ptr<store::EventLog> log;
  if (Status s = OpenReadOnly(data_dir, &log); !s.ok()) return s;
  *last = log->LastSeq();
  if (seq == 0 || *last < seq) return Status::OK();
  auto ev = log->Read(seq);
  if (!ev.ok()) return ev.status().IsNotFound() ? Status::OK() : ev.status();
  const auto* env = ev->envelope();
  if (env != nullptr && env->seq() == seq && env->hash() != nullptr) {
    std::copy(env->hash()->bytes()->begin(), env->hash()->bytes()->end(), hash->begin());
    *have = true;
  }
  return Status::OK();
}

}  // namespace noodle::tools
