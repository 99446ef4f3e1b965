#include "chain_hash.h"

#include "noodle/store/chain.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

namespace noodle::store {
namespace {

// One digest context per thread, reused: creating one and fetching the
// algorithm on every call costs more than hashing a small event.
class Sha256Context {
 public:
  Sha256Context() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (md_ == nullptr || ctx_ == nullptr) std::abort();  // OpenSSL without SHA-256: unusable
  }
  ~Sha256Context() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256Context(const Sha256Context&) = delete;
  Sha256Context& operator=(const Sha256Context&) = delete;

  void Begin() { EVP_DigestInit_ex2(ctx_, md_, nullptr); }
  void Update(const void* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  Digest Finish() {
    Digest out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, out.data(), &len);
    return out;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

}  // namespace

Digest ChainHash(const Digest& prev, std::string_view bytes, const fb::EventEnvelope& envelope) {
  thread_local Sha256Context sha;
  static constexpr uint8_t kZeros[32] = {};
  sha.Begin();
  sha.Update(prev.data(), prev.size());
  const auto* hash_field = reinterpret_cast<const char*>(envelope.hash());
  if (hash_field == nullptr) {
    sha.Update(bytes.data(), bytes.size());
  } else {
    const size_t off = static_cast<size_t>(hash_field - bytes.data());
    sha.Update(bytes.data(), off);
    sha.Update(kZeros, sizeof kZeros);
    sha.Update(bytes.data() + off + 32, bytes.size() - off - 32);
  }
  return sha.Finish();
}

}  // namespace noodle::store

namespace noodle::store {

ChainChecker::ChainChecker(uint64_t from, const fb::Hash256* prev) : next_(from == 0 ? 1 : from), prev_(ToDigest(prev)) {}

Status ChainChecker::Check(std::string_view bytes, const fb::EventEnvelope& env) {
  const uint64_t seq = env.seq();
  if (seq != next_) return Status::Corruption("missing event (next stored is seq " + std::to_string(seq) + ")", next_);
  if (ToDigest(env.prev_hash()) != prev_) return Status::Corruption("prev_hash does not match the previous event's hash", seq);
  const Digest stored = ToDigest(env.hash());
  if (ChainHash(prev_, bytes, env) != stored) return Status::Corruption("hash mismatch: event bytes were changed", seq);
  prev_ = stored;
  ++next_;
  return Status::OK();
}

}  // namespace noodle::store
