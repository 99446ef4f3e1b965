#include "snapshot_loader.h"

#include <spdlog/spdlog.h>

#include "noodle/projections/codec.h"

namespace noodle::engine {

uint64_t LoadNewestSnapshot(const store::EventLog& log, uint64_t at_or_below, State* state, proj::Statistics* stats,
                            int max_tries) {
  for (int tries = 0; tries < max_tries && at_or_below > 0; ++tries) {
    auto status_snap = log.GetSnapshot(proj::Status::kName, at_or_below);
    if (!status_snap.ok()) {
      if (!status_snap.status().IsNotFound()) {
        spdlog::warn("engine: snapshots unreadable below seq {}: {}; replaying from seq 1", at_or_below,
                     status_snap.status().ToString());
      }
      return 0;
    }
    const uint64_t seq = status_snap->seq;
    at_or_below = seq - 1;  // where to look next if this set is unusable
    if (seq > log.LastSeq()) {
      spdlog::warn("engine: snapshot at seq {} is beyond the log's end ({}); skipped", seq, log.LastSeq());
      continue;
    }
    // The snapshot writer writes the status last, so a status snapshot is
    // complete only with the others at the same seq.
    auto reg = log.GetSnapshot(proj::Registry::kName, seq);
    if (!reg.ok() || reg->seq != seq) continue;
    State decoded;
    proj::Statistics decoded_stats;
    Status s = proj::Decode(status_snap->blob, &decoded.status);
    if (s.ok()) s = proj::Decode(reg->blob, &decoded.registry);
    if (s.ok() && stats != nullptr) {
      auto st = log.GetSnapshot(proj::Statistics::kName, seq);
      if (!st.ok() || st->seq != seq) continue;
      s = proj::Decode(st->blob, &decoded_stats);
    }
    if (!s.ok()) {
      spdlog::warn("engine: snapshot at seq {} skipped ({}); trying an older one", seq, s.ToString());
      continue;
    }
    *state = std::move(decoded);
    if (stats != nullptr) *stats = std::move(decoded_stats);
    return seq;
  }
  return 0;
}

Result<State> StateAt(const store::EventLog& log, uint64_t seq) {
  State s;
  const uint64_t base = LoadNewestSnapshot(log, seq, &s, nullptr);
  auto it = log.Scan(base + 1, seq);
  for (; it->Valid(); it->Next()) Evolve(s, *it->envelope());
  if (!it->status().ok()) return it->status();
  return s;
}

}  // namespace noodle::engine
