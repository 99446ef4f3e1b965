// Signed chain heads: the daemon's Ed25519 signature over (seq, hash of
// event seq, time). The hash chain alone is unkeyed: whoever can write the
// log can delete its newest events or rewrite an old one and recompute every
// hash after it, and the chain still holds. A head signed earlier and kept
// elsewhere (an auditor's copy, the data directory's head.signed) pins event
// seq's hash: a log that no longer holds it was truncated or rewritten.
//
// Wire and file format: a FlatBuffers SignedHead (schemas/bus.fbs) as the
// root of its own buffer, no file identifier. Signed message:
//   "noodle-head-v1" || seq (8, big-endian) || hash (32) || time_ns (8, big-endian)
// Key files (text, one line of lowercase hex and a newline):
//   head.key  the 32-byte Ed25519 seed, mode 0600
//   head.pub  the 32-byte public key, mode 0644
//
// Thread safety: HeadKey is immutable after Load/Create; Sign may be called
// from any thread. The free functions keep no state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "noodle/status.h"

namespace noodle::store {

class EventLog;

using HeadHash = std::array<uint8_t, 32>;
using HeadPublicKey = std::array<uint8_t, 32>;

// A signed head whose signature was checked.
struct SignedHeadInfo {
  uint64_t seq = 0;  // 0: the empty log
  HeadHash hash{};   // stored hash of event seq (zeros for seq 0)
  int64_t time_ns = 0;
  std::string key_id;  // hex of the public key's first 8 bytes
  HeadPublicKey public_key{};
};

// The daemon's signing key.
class HeadKey {
 public:
  // Loads <dir>/head.key, or creates it (and head.pub) when absent; writes
  // head.pub again when it is missing. Files are written to a temp name,
  // fsynced and renamed, so a crash leaves either no key or a whole one.
  //   InvalidArgument: head.key is malformed, or readable by group/others
  //     (the daemon refuses to sign with a key others may have copied).
  //   IOError: the directory or a file cannot be written.
  static Result<HeadKey> LoadOrCreate(const std::string& dir);
  // Loads <dir>/head.key; NotFound when it does not exist (never creates).
  static Result<HeadKey> Load(const std::string& dir);

  HeadKey(HeadKey&&) noexcept;
  HeadKey& operator=(HeadKey&&) noexcept;
  ~HeadKey();  // wipes the secret key

  // A SignedHead buffer over (seq, hash, time_ns).
  std::string Sign(uint64_t seq, const HeadHash& hash, int64_t time_ns) const;
  const HeadPublicKey& public_key() const { return public_key_; }
  std::string key_id() const;

 private:
  HeadKey() = default;
  std::array<uint8_t, 64> secret_{};  // libsodium's seed || public key
  HeadPublicKey public_key_{};
};

// Parses and checks a SignedHead buffer: it verifies as FlatBuffers, the key
// and signature have their sizes, key_id matches the key, and the signature
// holds over the message. With expected_key, the head must be signed by it.
//   Corruption: any of these fails (the message says which); *out untouched.
Status VerifySignedHead(std::string_view bytes, const HeadPublicKey* expected_key, SignedHeadInfo* out);

// Writes bytes to path atomically (temp file, fsync, rename, fsync of the
// directory) with the given mode. IOError on failure; path is then unchanged.
Status WriteFileAtomic(const std::string& path, std::string_view bytes, unsigned mode = 0600);
// The whole file. NotFound when it does not exist, IOError otherwise.
Result<std::string> ReadWholeFile(const std::string& path);

// A public key from a head.pub file (64 hex digits; surrounding whitespace
// allowed). NotFound / IOError from reading; InvalidArgument when malformed.
Result<HeadPublicKey> LoadPublicKey(const std::string& path);

// How a log compares with a signed head.
enum class HeadMatch {
  kHolds,      // the log holds event head.seq with the head's hash
  kTruncated,  // the log ends below head.seq: newest events were deleted
  kRewritten,  // event head.seq's hash differs: history up to it was rewritten
};
// From the two facts that decide it: the log's last seq and the stored hash
// of event head.seq (null when the log does not hold it).
HeadMatch CompareWithHead(const SignedHeadInfo& head, uint64_t log_last_seq, const HeadHash* hash_at_head_seq);

// Checks log against head: OK when it holds event head.seq with head.hash.
//   Corruption, seq = the log's last seq + 1: "log ends at seq X, below the
//     signed head at seq Y (events deleted)".
//   Corruption, seq = Y: "event Y's hash differs from the signed head:
//     history before it was rewritten", or event Y is missing/unreadable.
// It does not verify the chain itself: run EventLog::Verify for that. Part
// of noodle_store (it reads the log), unlike the rest of this header.
Status CheckLogAgainstHead(const EventLog& log, const SignedHeadInfo& head);

// Hex helpers shared by the tools.
std::string ToHex(const uint8_t* data, size_t n);

}  // namespace noodle::store
