// What an intruder with write access to the store does to hide a rewrite:
// change a stored event and recompute the hash chain after it, so that
// `audit verify` (the unkeyed chain) still holds. Raw RocksDB, for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "noodle/fb/events_generated.h"

namespace noodle::test {

// Applies edit to event `seq` of the log in log_dir (in place: the edit must
// keep the buffer's layout, e.g. same-length string bytes or scalars), then
// recomputes its hash and every later event's prev_hash and hash up to
// last_seq. The log must not be open elsewhere.
void RewriteAndRechain(const std::string& log_dir, uint64_t seq, uint64_t last_seq,
                       const std::function<void(fb::EventEnvelope*)>& edit);

}  // namespace noodle::test
