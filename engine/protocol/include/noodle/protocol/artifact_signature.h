// Signed artifacts: Ed25519 detached signatures (libsodium) over an
// artifact's SHA-256, so that the daemon runs hooks for, or dlopens, only
// what a trusted signer released.
//
// What is signed: the bytes "noodle-artifact-v1" followed by the 32-byte
// SHA-256 of the artifact. The prefix keeps a signature of an artifact from
// being mistaken for a signature of anything else signed with the same key.
//
// Files (all text):
//   PREFIX.key  signer key, mode 0600, JSON:
//               {"format":"noodle-signing-key-v1","key_id":"<16 hex>",
//                "public_key":"<64 hex>","secret_key":"<128 hex>"}
//   PREFIX.pub  one line in the trusted-signers format: "<name> <64 hex>",
//               name = the file name of PREFIX; append it to a daemon's
//               trusted-signers file to trust the key.
//   FILE.sig    detached signature, JSON:
//               {"format":"noodle-artifact-sig-v1","key_id":"<16 hex>",
//                "public_key":"<64 hex>","sha256":"<64 hex>","signature":"<128 hex>"}
//               (sha256 and public_key are informational; the signature is
//               checked against the trusted key and the artifact's own hash).
//   trusted signers  one signer per line: "<name> <public key, 64 hex>";
//               blank lines and lines starting with '#' are ignored.
// A key id is the hex of the first 8 bytes of the public key.
//
// Thread-safe: no shared state (libsodium is initialised once, thread-safely).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "noodle/status.h"

namespace noodle::engine::signing {

struct SignerKey {
  std::string key_id;      // 16 hex digits
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 64 bytes (libsodium's seed || public key)
};

struct TrustedSigner {
  std::string name;
  std::string key_id;
  std::string public_key;  // 32 bytes
};
using TrustedSigners = std::vector<TrustedSigner>;

// The key id of a 32-byte public key.
std::string KeyId(std::string_view public_key);

// A new key pair written to PREFIX.key (0600, never overwritten: an existing
// file is InvalidArgument) and PREFIX.pub. IOError when a file cannot be written.
Result<SignerKey> GenerateSignerKey(const std::string& prefix);
// InvalidArgument when the file is not a signer key (or its halves disagree);
// NotFound when it cannot be read.
Result<SignerKey> LoadSignerKey(const std::string& path);

// Writes <artifact>.sig (replacing one that exists); returns its path.
// NotFound when the artifact cannot be read.
Result<std::string> SignArtifact(const std::string& artifact_path, const SignerKey& key);

// The trusted-signers format above. InvalidArgument names the line at fault.
Result<TrustedSigners> ParseTrustedSigners(std::string_view text);
// NotFound when the file cannot be read.
Result<TrustedSigners> LoadTrustedSigners(const std::string& path);

// Checks <artifact>.sig and returns the key id of the trusted signer whose
// signature verifies. When declared_sha256 (hex) is given, the artifact's
// hash must equal it. Each failure names the check, in this order:
//   NotFound    "artifact <path> cannot be read"
//   Corruption  "artifact hash differs from the declared sha256 (...)"
//   NotFound    "no signature file <path>.sig"
//   Corruption  "signature file <path>.sig is malformed: ..."
//   NotSupported "signer <id> is not trusted"
//   Corruption  "signature does not verify (...)"
Result<std::string> VerifyArtifact(const std::string& artifact_path, const TrustedSigners& signers,
                                   const std::string& declared_sha256 = "");

// The signature file of an artifact: artifact_path + ".sig".
inline std::string SignaturePath(const std::string& artifact_path) { return artifact_path + ".sig"; }

}  // namespace noodle::engine::signing
