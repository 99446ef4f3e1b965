// Append with group commit: concurrent appenders queue up; the one at the
// front leads, turns the whole queue into one WriteBatch and one (synced)
// write, then wakes the others. Seqs, versions and the hash chain are
// assigned only by the leader, so they follow write order exactly.
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "keys.h"
#include "noodle/envelope.h"
#include "rocks_log.h"

namespace noodle::store {
namespace {

constexpr size_t kMaxStreamName = 512;
// Bound on cached stream versions; past it the cache starts over (misses
// cost one RocksDB seek each).
constexpr size_t kMaxCachedStreams = 1u << 17;
// A WriteBatch record beyond its key and value: tag, column family, lengths.
constexpr size_t kPutOverhead = 24;

bool SameId(const fb::Id128& a, const fb::Id128& b) { return a.hi() == b.hi() && a.lo() == b.lo(); }

bool HasLogOwnedFields(const fb::EventEnvelope& env) {
  using E = fb::EventEnvelope;
  // Generated tables inherit Table privately; the layout is the same.
  const auto& t = reinterpret_cast<const flatbuffers::Table&>(env);
  return t.CheckField(E::VT_SEQ) && t.CheckField(E::VT_STREAM_VERSION) && t.CheckField(E::VT_PREV_HASH) &&
         t.CheckField(E::VT_HASH);
}

// Checks that run in the appender's own thread, before it queues, so that
// concurrent appenders verify their buffers in parallel.
Status ValidateBatch(std::string_view stream, const std::vector<std::string>& events) {
  if (events.empty()) return Status::InvalidArgument("empty batch for stream '" + std::string(stream) + "'");
  if (stream.empty() || stream.size() > kMaxStreamName || stream.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("invalid stream name '" + std::string(stream) + "'");
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const auto* env = VerifyEnvelope(events[i]);
    const char* why = nullptr;
    if (env == nullptr) {
      why = "not a valid EventEnvelope buffer";
    } else if (!HasLogOwnedFields(*env)) {
      why = "seq/version/hash fields missing (build it with FinishEvent)";
    } else if (env->stream()->string_view() != stream) {
      why = "its stream differs from the batch's";
    } else if (IsZero(*env->event_id())) {
      why = "event id is zero";
    }
    if (why != nullptr) {
      return Status::InvalidArgument("event " + std::to_string(i) + " of the batch for stream '" +
                                     std::string(stream) + "': " + why);
    }
  }
  return Status::OK();
}

}  // namespace

Status RocksEventLog::Append(std::string_view stream, uint64_t expected_version,
                             std::vector<std::string> events, AppendResult* result) {
  if (!writable()) return Status::NotSupported("event log opened as a reader");
  *result = AppendResult{};
  if (Status s = ValidateBatch(stream, events); !s.ok()) return s;

  std::condition_variable cv;
  Writer w;
  w.stream = stream;
  w.expected_version = expected_version;
  w.events = &events;
  w.result = result;
  w.cv = &cv;
  RunWriters(&w, 1);
  return w.status;
}

Status RocksEventLog::AppendMany(std::vector<BatchAppend>* batches) {
  if (!writable()) return Status::NotSupported("event log opened as a reader");
  std::condition_variable cv;
  std::vector<Writer> ws;
  ws.reserve(batches->size());
  for (BatchAppend& b : *batches) {
    b.result = AppendResult{};
    b.status = ValidateBatch(b.stream, b.events);
    if (!b.status.ok()) continue;
    Writer& w = ws.emplace_back();
    w.stream = b.stream;
    w.expected_version = b.expected_version;
    w.events = &b.events;
    w.result = &b.result;
    w.cv = &cv;
  }
  if (!ws.empty()) RunWriters(ws.data(), ws.size());
  Status first_error;
  size_t k = 0;
  for (BatchAppend& b : *batches) {
    if (b.status.ok()) b.status = ws[k++].status;
    if (!b.status.ok() && first_error.ok()) first_error = b.status;
  }
  return first_error;
}

void RocksEventLog::RunWriters(Writer* first, size_t count) {
  Writer* const last = first + count - 1;
  auto ours = [&](const Writer* q) { return q >= first && q <= last; };
  std::unique_lock<std::mutex> lock(mu_);
  for (size_t i = 0; i < count; ++i) writers_.push_back(first + i);
  while (!last->done) {
    Writer* front = writers_.front();
    if (!ours(front)) {
      first->cv->wait(lock);
      continue;
    }
    // Leader: take the queue as it is now, bounded in events.
    std::vector<Writer*> group;
    size_t group_events = 0;
    for (Writer* q : writers_) {
      if (!group.empty() && group_events + q->events->size() > options_.max_group_events) break;
      group.push_back(q);
      group_events += q->events->size();
    }
    lock.unlock();
    const Status write_status = WriteGroup(group);
    lock.lock();
    for (Writer* q : group) {
      writers_.pop_front();
      if (!write_status.ok() && q->status.ok()) {
        q->status = write_status;
        *q->result = AppendResult{};
      }
      q->done = true;
      if (!ours(q)) q->cv->notify_one();
    }
    if (!writers_.empty() && !ours(writers_.front())) writers_.front()->cv->notify_one();
  }
}

Result<uint64_t> RocksEventLog::CachedStreamVersion(std::string_view stream) {
  std::string key(stream);
  if (auto it = stream_versions_.find(key); it != stream_versions_.end()) return it->second;
  auto v = StreamVersionLocked(stream);
  if (!v.ok()) return v;
  if (stream_versions_.size() >= kMaxCachedStreams) stream_versions_.clear();
  stream_versions_.emplace(std::move(key), v.value());
  return v;
}

Status RocksEventLog::ResolveDuplicate(const Writer& w, const keys::BatchRef& stored) {
  const auto& events = *w.events;
  const std::string where = "first event id already stored (batch of " + std::to_string(stored.count) +
                            " at seq " + std::to_string(stored.first_seq) + ")";
  if (stored.count != events.size()) {
    return Status::InvalidArgument(where + " but this batch has " + std::to_string(events.size()) +
                                   " events: not a retry of that append");
  }
  uint64_t version = 0;
  auto it = Scan(stored.first_seq, stored.first_seq + stored.count - 1);
  size_t i = 0;
  for (; it->Valid() && i < events.size(); it->Next(), ++i) {
    const auto* env = it->envelope();
    const auto* mine = fb::GetEventEnvelope(events[i].data());
    if (env->stream()->string_view() != w.stream || !SameId(*env->event_id(), *mine->event_id())) {
      return Status::InvalidArgument(where + " but event " + std::to_string(i) +
                                     " differs in id or stream: not a retry of that append");
    }
    version = env->stream_version();
  }
  if (!it->status().ok()) return it->status();
  if (i != events.size()) return Status::Corruption(where + " but the batch's events are missing", stored.first_seq + i);
  w.result->seqs.resize(events.size());
  for (size_t k = 0; k < events.size(); ++k) w.result->seqs[k] = stored.first_seq + k;
  w.result->stream_version = version;
  w.result->duplicate = true;
  return Status::OK();
}

void RocksEventLog::ResolveGroupRetry(const Writer& original, Writer* q) {
  const auto& events = *q->events;
  bool same = original.status.ok() && original.events->size() == events.size() && original.stream == q->stream;
  for (size_t i = 0; same && i < events.size(); ++i) {
    same = SameId(*fb::GetEventEnvelope((*original.events)[i].data())->event_id(),
                  *fb::GetEventEnvelope(events[i].data())->event_id());
  }
  if (!same) {
    q->status = Status::InvalidArgument("first event id is being appended by another batch: not a retry of it");
    return;
  }
  q->result->seqs = original.result->seqs;
  q->result->stream_version = original.result->stream_version;
  q->result->duplicate = true;
}

void RocksEventLog::AddToBatch(Writer& q, const std::string& id_key, uint64_t version, GroupPlan* plan) {
  auto& events = *q.events;
  const uint64_t first_seq = plan->next_seq;
  const uint64_t first_version = version + 1;
  q.result->seqs.reserve(events.size());
  for (std::string& bytes : events) {
    auto* env = fb::GetMutableEventEnvelope(bytes.data());
    const uint64_t seq = plan->next_seq++;
    env->mutate_seq(seq);
    env->mutate_stream_version(++version);
    std::memcpy(env->mutable_prev_hash(), plan->prev.data(), plan->prev.size());
    plan->prev = ChainHash(plan->prev, bytes, *env);
    std::memcpy(env->mutable_hash(), plan->prev.data(), plan->prev.size());
    plan->batch.Put(cf(kEventsCf), keys::Seq(seq), bytes);
    q.result->seqs.push_back(seq);
  }
  const std::string ref = keys::EncodeBatchRef(first_seq, static_cast<uint32_t>(events.size()));
  plan->stream_index.emplace_back(keys::NamedSeq(q.stream, first_version), ref);
  plan->id_index.emplace_back(id_key, ref);
  plan->versions[q.stream] = version;
  plan->firsts.emplace(id_key, &q);
  q.result->stream_version = version;
}

void RocksEventLog::PlanWriter(Writer& q, const std::string& id_key, const rocksdb::PinnableSlice& found,
                               const rocksdb::Status& found_status, GroupPlan* plan) {
  if (found_status.ok()) {
    keys::BatchRef ref;
    q.status = keys::DecodeBatchRef(found.ToStringView(), &ref) ? ResolveDuplicate(q, ref)
                                                                 : Status::Corruption("event id index entry is malformed");
    return;
  }
  if (!found_status.IsNotFound()) {
    q.status = FromRocks(found_status, "look up event id");
    return;
  }
  if (auto it = plan->firsts.find(id_key); it != plan->firsts.end()) return ResolveGroupRetry(*it->second, &q);

  uint64_t version;
  if (auto it = plan->versions.find(q.stream); it != plan->versions.end()) {
    version = it->second;
  } else {
    auto v = CachedStreamVersion(q.stream);
    if (!v.ok()) {
      q.status = v.status();
      return;
    }
    version = v.value();
  }
  if (q.expected_version != kAnyVersion && q.expected_version != version) {
    q.status = Status::Conflict("stream '" + std::string(q.stream) + "': expected version " +
                                std::to_string(q.expected_version) + ", actual version " + std::to_string(version));
    return;
  }
  AddToBatch(q, id_key, version, plan);
}

void RocksEventLog::AddIndexEntries(GroupPlan* plan) {
  // A memtable insert after one at a nearby key reuses most of its search
  // (the skiplist's splice); index keys in append order are scattered.
  const std::pair<Cf, std::vector<std::pair<std::string, std::string>>*> indexes[] = {
      {kStreamsCf, &plan->stream_index}, {kEventIdsCf, &plan->id_index}};
  for (auto [family, index] : indexes) {
    std::sort(index->begin(), index->end());
    for (const auto& [key, ref] : *index) plan->batch.Put(cf(family), key, ref);
  }
}

Status RocksEventLog::CommitGroup(const std::vector<Writer*>& group, GroupPlan* plan) {
  if (plan->batch.Count() == 0) return Status::OK();
  AddIndexEntries(plan);
  // Nothing of the group is stored when either fails; the chain and the
  // versions stay as they were.
  if (Status s = CheckRoom(plan->batch.GetDataSize()); !s.ok()) return MarkFailed(s, /*rocks_failed=*/false);
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  if (rocksdb::Status rs = db_->Write(wo, &plan->batch); !rs.ok()) {
    stream_versions_.clear();
    if (rs.IsIOError()) return MarkFailed(WriteFailure(rs, "append"), /*rocks_failed=*/true);
    return FromRocks(rs, "append");
  }
  for (const auto& [stream, version] : plan->versions) stream_versions_[std::string(stream)] = version;
  last_hash_ = plan->prev;
  appended_events_.fetch_add(plan->next_seq - 1 - LastSeq(), std::memory_order_relaxed);
  group_writes_.fetch_add(1, std::memory_order_relaxed);
  if (wo.sync) synced_writes_.fetch_add(1, std::memory_order_relaxed);
  last_seq_.store(plan->next_seq - 1, std::memory_order_release);
  for (Writer* q : group) {
    if (q->status.ok() && !q->result->duplicate) q->result->events = std::move(*q->events);
  }
  return Status::OK();
}

Status RocksEventLog::WriteGroup(const std::vector<Writer*>& group) {
  std::lock_guard<std::mutex> health(recover_mu_);
  if (Status s = RecoverLocked(); !s.ok()) return s;
  std::shared_lock<std::shared_timed_mutex> db_lock;
  if (Status s = LockDb(&db_lock); !s.ok()) return s;

  // Idempotency: one lookup per batch, by its first event id, for the group at once.
  std::vector<std::string> id_keys;
  id_keys.reserve(group.size());
  size_t bytes = 0;  // what the batch will hold, so that it is allocated once
  for (const Writer* q : group) {
    id_keys.push_back(keys::EventId(*fb::GetEventEnvelope(q->events->front().data())->event_id()));
    for (const std::string& e : *q->events) bytes += e.size() + kPutOverhead;
    bytes += 2 * (q->stream.size() + kPutOverhead + 32);
  }
  std::vector<rocksdb::Slice> id_slices(id_keys.begin(), id_keys.end());
  std::vector<rocksdb::PinnableSlice> found(id_keys.size());
  std::vector<rocksdb::Status> found_status(id_keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(kEventIdsCf), id_slices.size(), id_slices.data(), found.data(),
                found_status.data());

  GroupPlan plan(bytes);
  plan.next_seq = LastSeq() + 1;
  plan.prev = last_hash_;
  for (size_t w = 0; w < group.size(); ++w) PlanWriter(*group[w], id_keys[w], found[w], found_status[w], &plan);
  return CommitGroup(group, &plan);
}

}  // namespace noodle::store
