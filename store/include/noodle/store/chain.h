// Checking the log's hash chain outside the store: an auditor that received
// events some other way (the bus's replay endpoint) checks them with this,
// exactly as EventLog::Verify does.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "noodle/status.h"

namespace noodle::fb {
struct EventEnvelope;
struct Hash256;
}  // namespace noodle::fb

namespace noodle::store {

class ChainChecker {
 public:
  // Checks from seq `from` on; prev is the stored hash of event from-1
  // (null when from is 1: the chain starts from zeros).
  ChainChecker(uint64_t from, const fb::Hash256* prev);
  // The next event, in seq order: OK, or Corruption carrying its seq when
  // the seq skips, prev_hash differs from the previous hash, or the bytes
  // do not hash to the stored hash. env must be the verified envelope of bytes.
  Status Check(std::string_view bytes, const fb::EventEnvelope& env);
  uint64_t next_seq() const { return next_; }

 private:
  uint64_t next_;
  std::array<uint8_t, 32> prev_{};
};

}  // namespace noodle::store
