// CURVE keys on the bus: key pairs for the daemon and its clients, and the
// daemon's keys file that maps a client's public key to a principal.
//
// Key pair file (written 0600 by WriteKeyPair / `upgradectl keys generate`):
//   # comment
//   public <Z85, 40 characters>
//   secret <Z85, 40 characters>
// Public key file (PREFIX.pub): the Z85 public key on one line.
//
// Keys file (the operator edits it; the daemon reloads it on SIGHUP), one
// key per line; a line starting with '#' is a comment ('#' elsewhere is a
// Z85 character, part of a key):
//   <roles> <name> <Z85 public key>
//   operator,observer  alice  rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
// roles: observer, operator, admin, agent (comma-separated). For an agent
// key the name is the agent name it may announce.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "noodle/principal.h"
#include "noodle/status.h"

namespace noodle::bus {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh pair from libzmq (libsodium underneath). NotSupported when libzmq
// was built without CURVE.
Result<CurveKeyPair> GenerateKeyPair();

// Writes prefix + ".key" (mode 0600, created exclusively: an existing file is
// Conflict, never overwritten) and prefix + ".pub" (0644).
Status WriteKeyPair(const std::string& prefix, const CurveKeyPair& pair);

// Reads a key pair file. InvalidArgument names the line that is wrong, or
// says the file is readable by group or others (a secret key must not be);
// IOError when the file cannot be read.
Result<CurveKeyPair> LoadKeyPair(const std::string& path);

// A public key given inline (40 Z85 characters) or as a file holding one
// (a .pub file, or a key pair file whose public line is taken).
Result<std::string> LoadPublicKey(const std::string& key_or_path);

// True for 40 characters that decode as Z85 to 32 bytes.
bool IsZ85Key(const std::string& key);

struct KeyEntry {
  std::string name;
  uint32_t roles = 0;
  std::string public_key;  // Z85
};

// Parses a keys file. Every bad line is refused (InvalidArgument naming the file, the
// line number and why): a partly valid file is not half loaded.
Result<std::vector<KeyEntry>> ParseKeysFile(const std::string& path);

// The daemon's current keys, looked up on every handshake and every command,
// so a key removed from the file (and the file reloaded) is refused from then
// on. Thread-safe.
class KeyRing {
 public:
  KeyRing() = default;
  explicit KeyRing(std::vector<KeyEntry> entries) { Replace(std::move(entries)); }
  // Returns the number of keys that were present before and are gone now.
  size_t Replace(std::vector<KeyEntry> entries);
  std::optional<Principal> Find(const std::string& public_key) const;
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, KeyEntry> by_key_;
};

}  // namespace noodle::bus
