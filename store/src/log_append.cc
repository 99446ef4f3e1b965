// Append with group commit: concurrent appenders queue up; the one at the
// front leads, turns the whole queue into one WriteBatch and one (synced)
// write, then wakes the others. Seqs, versions and the hash chain are
// assigned only by the leader, so they follow write order exactly.
#include <rocksdb/write_batch.h>

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
  auto v = StreamVersion(stream);
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

Status RocksEventLog::WriteGroup(const std::vector<Writer*>& group) {
  std::lock_guard<std::mutex> health(recover_mu_);
  if (Status s = RecoverLocked(); !s.ok()) return s;
  std::shared_lock<std::shared_timed_mutex> db_lock;
  if (Status s = LockDb(&db_lock); !s.ok()) return s;

  // Idempotency: one lookup per batch, by its first event id, for the group at once.
  std::vector<std::string> id_keys;
  id_keys.reserve(group.size());
  for (const Writer* q : group) id_keys.push_back(keys::EventId(*fb::GetEventEnvelope(q->events->front().data())->event_id()));
  std::vector<rocksdb::Slice> id_slices(id_keys.begin(), id_keys.end());
  std::vector<rocksdb::PinnableSlice> found(id_keys.size());
  std::vector<rocksdb::Status> found_status(id_keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(kEventIdsCf), id_slices.size(), id_slices.data(), found.data(),
                found_status.data());

  rocksdb::WriteBatch batch;
  uint64_t next_seq = LastSeq() + 1;
  Digest prev = last_hash_;
  std::unordered_map<std::string_view, uint64_t> group_versions;  // streams touched by this group
  std::unordered_map<std::string_view, Writer*> group_batches;    // first id -> its append in this group

  for (size_t w = 0; w < group.size(); ++w) {
    Writer* q = group[w];
    auto& events = *q->events;
    if (found_status[w].ok()) {
      keys::BatchRef ref;
      q->status = keys::DecodeBatchRef(found[w].ToStringView(), &ref)
                      ? ResolveDuplicate(*q, ref)
                      : Status::Corruption("event id index entry is malformed");
      continue;
    }
    if (!found_status[w].IsNotFound()) {
      q->status = FromRocks(found_status[w], "look up event id");
      continue;
    }
    if (auto it = group_batches.find(id_keys[w]); it != group_batches.end()) {
      // A concurrent retry of an append in this very group.
      const Writer& original = *it->second;
      bool same = original.status.ok() && original.events->size() == events.size() && original.stream == q->stream;
      for (size_t i = 0; same && i < events.size(); ++i) {
        same = SameId(*fb::GetEventEnvelope((*original.events)[i].data())->event_id(),
                      *fb::GetEventEnvelope(events[i].data())->event_id());
      }
      if (!same) {
        q->status = Status::InvalidArgument("first event id is being appended by another batch: not a retry of it");
      } else {
        q->result->seqs = original.result->seqs;
        q->result->stream_version = original.result->stream_version;
        q->result->duplicate = true;
      }
      continue;
    }

    uint64_t version;
    if (auto it = group_versions.find(q->stream); it != group_versions.end()) {
      version = it->second;
    } else {
      auto v = CachedStreamVersion(q->stream);
      if (!v.ok()) {
        q->status = v.status();
        continue;
      }
      version = v.value();
    }
    if (q->expected_version != kAnyVersion && q->expected_version != version) {
      q->status = Status::Conflict("stream '" + std::string(q->stream) + "': expected version " +
                                   std::to_string(q->expected_version) + ", actual version " +
                                   std::to_string(version));
      continue;
    }

    const uint64_t first_seq = next_seq;
    const uint64_t first_version = version + 1;
    q->result->seqs.reserve(events.size());
    for (std::string& bytes : events) {
      auto* env = fb::GetMutableEventEnvelope(bytes.data());
      const uint64_t seq = next_seq++;
      env->mutate_seq(seq);
      env->mutate_stream_version(++version);
      std::memcpy(env->mutable_prev_hash(), prev.data(), prev.size());
      prev = ChainHash(prev, bytes, *env);
      std::memcpy(env->mutable_hash(), prev.data(), prev.size());
      batch.Put(cf(kEventsCf), keys::Seq(seq), bytes);
      q->result->seqs.push_back(seq);
    }
    const std::string ref = keys::EncodeBatchRef(first_seq, static_cast<uint32_t>(events.size()));
    batch.Put(cf(kStreamsCf), keys::NamedSeq(q->stream, first_version), ref);
    batch.Put(cf(kEventIdsCf), id_keys[w], ref);
    group_versions[q->stream] = version;
    group_batches.emplace(id_keys[w], q);
    q->result->stream_version = version;
  }

  if (batch.Count() == 0) return Status::OK();
  // Nothing of the group is stored when either fails; the chain and the
  // versions stay as they were.
  if (Status s = CheckRoom(batch.GetDataSize()); !s.ok()) return MarkFailed(s, /*rocks_failed=*/false);
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  if (rocksdb::Status rs = db_->Write(wo, &batch); !rs.ok()) {
    stream_versions_.clear();
    if (rs.IsIOError()) return MarkFailed(WriteFailure(rs, "append"), /*rocks_failed=*/true);
    return FromRocks(rs, "append");
  }
  for (const auto& [stream, version] : group_versions) stream_versions_[std::string(stream)] = version;
  last_hash_ = prev;
  last_seq_.store(next_seq - 1, std::memory_order_release);
  for (Writer* q : group) {
    if (q->status.ok() && !q->result->duplicate) q->result->events = std::move(*q->events);
  }
  return Status::OK();
}

}  // namespace noodle::store
