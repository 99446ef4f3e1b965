// Verify: recompute the hash chain and check that seqs are gapless.
#include <algorithm>
#include "noodle/envelope.h"
#include "rocks_log.h"

namespace noodle::store {

Status RocksEventLog::Verify(uint64_t from, uint64_t to, uint64_t* checked) const {
  if (checked != nullptr) *checked = 0;
  if (from == 0) from = 1;
  Digest prev{};
  if (from > 1) {
    // The chain is checked from the stored hash of the event before the range.
    auto before = Read(from - 1);
    if (!before.ok()) return before.status();
    prev = ToDigest(before->envelope()->hash());
  }
  uint64_t expected = from;
  auto it = Scan(from, to);
  for (; it->Valid(); it->Next(), ++expected) {
    const uint64_t seq = it->seq();
    if (seq != expected) return Status::Corruption("missing event (next stored is seq " + std::to_string(seq) + ")", expected);
    const auto* env = it->envelope();
    if (ToDigest(env->prev_hash()) != prev) return Status::Corruption("prev_hash does not match the previous event's hash", seq);
    const Digest recomputed = ChainHash(prev, it->bytes(), *env);
    const Digest stored = ToDigest(env->hash());
    if (recomputed != stored) return Status::Corruption("hash mismatch: event bytes were changed", seq);
    prev = stored;
    if (checked != nullptr) ++*checked;
  }
  if (!it->status().ok()) return it->status();
  const uint64_t last = std::min(to, LastSeq());
  if (expected <= last) return Status::Corruption("missing event at the end of the range", expected);
  return Status::OK();
}

}  // namespace noodle::store
