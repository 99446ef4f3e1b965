// Verify: recompute the hash chain and check that seqs are gapless.
#include <algorithm>
#include "noodle/envelope.h"
#include "noodle/store/chain.h"
#include "noodle/store/signed_head.h"
#include "rocks_log.h"

namespace noodle::store {

Status RocksEventLog::Verify(uint64_t from, uint64_t to, uint64_t* checked) const {
  if (checked != nullptr) *checked = 0;
  if (from == 0) from = 1;
  const fb::Hash256* prev = nullptr;
  StoredEvent before;
  if (from > 1) {
    // The chain is checked from the stored hash of the event before the range.
    auto read = Read(from - 1);
    if (!read.ok()) return read.status();
    before = std::move(read.value());
    prev = before.envelope()->hash();
  }
  ChainChecker chain(from, prev);
  auto it = Scan(from, to);
  for (; it->Valid(); it->Next()) {
    if (Status s = chain.Check(it->bytes(), *it->envelope()); !s.ok()) return s;
    if (checked != nullptr) ++*checked;
  }
  if (!it->status().ok()) return it->status();
  const uint64_t last = std::min(to, LastSeq());
  if (chain.next_seq() <= last) return Status::Corruption("missing event at the end of the range", chain.next_seq());
  return Status::OK();
}

Status CheckLogAgainstHead(const EventLog& log, const SignedHeadInfo& head) {
  const uint64_t last = log.LastSeq();
  HeadHash stored{};
  bool have = false;
  if (head.seq > 0 && last >= head.seq) {
    auto ev = log.Read(head.seq);
    if (!ev.ok()) {
      if (ev.status().IsCorruption()) return ev.status();
      return Status::Corruption("event " + std::to_string(head.seq) + " of the signed head is missing from the log (" +
                                    ev.status().message() + "): history before it was rewritten",
                                head.seq);
    }
    if (const auto* h = ev->envelope()->hash()) {
      std::copy(h->bytes()->begin(), h->bytes()->end(), stored.begin());
      have = true;
    }
  }
  switch (CompareWithHead(head, last, have ? &stored : nullptr)) {
    case HeadMatch::kHolds: return Status::OK();
    case HeadMatch::kTruncated:
      return Status::Corruption("log ends at seq " + std::to_string(last) + ", below the signed head at seq " +
                                    std::to_string(head.seq) + " (events deleted)",
                                last + 1);
    case HeadMatch::kRewritten:
      return Status::Corruption("event " + std::to_string(head.seq) +
                                    "'s hash differs from the signed head: history before it was rewritten",
                                head.seq);
  }
  return Status::OK();
}

}  // namespace noodle::store
