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
    const std::string at = "event " + std::to_string(i) + " of the batch: ";
    if (env == nullptr) return Status::InvalidArgument(at + "not a valid EventEnvelope buffer");
    if (!HasLogOwnedFields(*env)) {
      return Status::InvalidArgument(at + "seq/version/hash fields missing (build it with FinishEvent)");
    }
    if (env->stream()->string_view() != stream) {
      return Status::InvalidArgument(at + "stream '" + env->stream()->str() + "' differs from '" +
                                     std::string(stream) + "'");
    }
    if (IsZero(*env->event_id())) return Status::InvalidArgument(at + "event id is zero");
  }
  return Status::OK();
}

}  // namespace

Status RocksEventLog::Append(std::string_view stream, uint64_t expected_version,
                             std::vector<std::string> events, AppendResult* result) {
  if (!writable()) return Status::NotSupported("event log opened as a reader");
  *result = AppendResult{};
  if (Status s = ValidateBatch(stream, events); !s.ok()) return s;

  Writer w;
  w.stream = stream;
  w.expected_version = expected_version;
  w.events = &events;
  w.result = result;

  std::unique_lock<std::mutex> lock(mu_);
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait(lock);
  if (w.done) return w.status;

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
    if (q != &w) q->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return w.status;
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

Status RocksEventLog::ResolveDuplicate(const Writer& w, const std::vector<uint64_t>& stored,
                                       const uint64_t* pending_version) {
  for (size_t i = 0; i < stored.size(); ++i) {
    if (stored[i] == 0 || stored[i] != stored[0] + i) {
      return Status::InvalidArgument("event " + std::to_string(i) +
                                     " of the batch: some of the batch's event ids are already stored "
                                     "and some are not, or in another order; not a retry of one append");
    }
  }
  uint64_t version = 0;
  if (pending_version != nullptr) {
    // The original is in this group (a concurrent retry): same ids, same stream.
    version = *pending_version;
  } else {
    auto last = Read(stored.back());
    if (!last.ok()) return last.status();
    const auto* env = last->envelope();
    if (env->stream()->string_view() != w.stream) {
      return Status::InvalidArgument("event ids already stored in stream '" + env->stream()->str() + "'");
    }
    version = env->stream_version();
  }
  w.result->seqs = stored;
  w.result->stream_version = version;
  w.result->duplicate = true;
  return Status::OK();
}

Status RocksEventLog::WriteGroup(const std::vector<Writer*>& group) {
  // Idempotency: look up every event id of the group in one MultiGet.
  std::vector<std::string> id_keys;
  for (const Writer* q : group) {
    for (const auto& bytes : *q->events) id_keys.push_back(keys::EventId(*fb::GetEventEnvelope(bytes.data())->event_id()));
  }
  std::vector<rocksdb::Slice> id_slices(id_keys.begin(), id_keys.end());
  std::vector<rocksdb::PinnableSlice> found(id_keys.size());
  std::vector<rocksdb::Status> found_status(id_keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(kEventIdsCf), id_slices.size(), id_slices.data(), found.data(),
                found_status.data());

  rocksdb::WriteBatch batch;
  uint64_t next_seq = LastSeq() + 1;
  Digest prev = last_hash_;
  std::unordered_map<std::string_view, uint64_t> group_versions;  // streams touched by this group
  // ids written by this group -> (seq, stream version)
  std::unordered_map<std::string_view, std::pair<uint64_t, uint64_t>> group_ids;
  size_t key_index = 0;

  for (Writer* q : group) {
    auto& events = *q->events;
    const size_t first_key = key_index;
    key_index += events.size();

    // Seqs already assigned to this batch's ids: durable ones from RocksDB,
    // pending ones from earlier appends of this very group.
    std::vector<uint64_t> stored(events.size(), 0);
    bool any_stored = false;
    bool any_pending = false;
    uint64_t pending_version = 0;
    for (size_t i = 0; i < events.size() && q->status.ok(); ++i) {
      const size_t k = first_key + i;
      if (found_status[k].ok()) {
        stored[i] = keys::GetBE64(found[k].ToStringView());
      } else if (!found_status[k].IsNotFound()) {
        q->status = FromRocks(found_status[k], "look up event id");
      } else if (auto it = group_ids.find(id_keys[k]); it != group_ids.end()) {
        stored[i] = it->second.first;
        pending_version = it->second.second;
        any_pending = true;
      }
      any_stored = any_stored || stored[i] != 0;
    }
    if (!q->status.ok()) continue;
    if (any_stored) {
      q->status = ResolveDuplicate(*q, stored, any_pending ? &pending_version : nullptr);
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

    q->result->seqs.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      std::string& bytes = events[i];
      auto* env = fb::GetMutableEventEnvelope(bytes.data());
      const uint64_t seq = next_seq++;
      ++version;
      env->mutate_seq(seq);
      env->mutate_stream_version(version);
      std::memcpy(env->mutable_prev_hash(), prev.data(), prev.size());
      prev = ChainHash(prev, bytes, *env);
      std::memcpy(env->mutable_hash(), prev.data(), prev.size());

      const std::string seq_key = keys::Seq(seq);
      batch.Put(cf(kEventsCf), seq_key, bytes);
      batch.Put(cf(kStreamsCf), keys::NamedSeq(q->stream, version), seq_key);
      batch.Put(cf(kEventIdsCf), id_keys[first_key + i], seq_key);
      if (group.size() > 1) group_ids.emplace(id_keys[first_key + i], std::make_pair(seq, version));
      q->result->seqs.push_back(seq);
    }
    group_versions[q->stream] = version;
    q->result->stream_version = version;
  }

  if (batch.Count() == 0) return Status::OK();
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  Status s = FromRocks(db_->Write(wo, &batch), "append");
  if (!s.ok()) {
    // Nothing of the group is durable; the chain and versions stay as they were.
    stream_versions_.clear();
    return s;
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
