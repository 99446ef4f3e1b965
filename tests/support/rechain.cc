#include "support/rechain.h"

#include <openssl/evp.h>

#include <array>
#include <cstdlib>
#include <cstring>

#include "support/raw_rocks.h"

namespace noodle::test {
namespace {

using Digest = std::array<uint8_t, 32>;

// The log's chain hash, computed independently of the store's code:
// SHA-256(prev_hash || envelope bytes with the hash field read as zeros).
Digest ChainHash(const Digest& prev, const std::string& bytes, const fb::EventEnvelope& env) {
  std::string copy = bytes;
  const size_t off = reinterpret_cast<const char*>(env.hash()) - bytes.data();
  std::memset(copy.data() + off, 0, 32);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Digest out{};
  unsigned int len = 0;
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, prev.data(), prev.size()) != 1 || EVP_DigestUpdate(ctx, copy.data(), copy.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1) {
    std::abort();
  }
  EVP_MD_CTX_free(ctx);
  return out;
}

void SetHash(fb::Hash256* h, const Digest& d) {
  for (size_t i = 0; i < d.size(); ++i) h->mutable_bytes()->Mutate(i, d[i]);
}

Digest GetHash(const fb::Hash256* h) {
  Digest d{};
  std::copy(h->bytes()->begin(), h->bytes()->end(), d.begin());
  return d;
}

}  // namespace

void RewriteAndRechain(const std::string& log_dir, uint64_t seq, uint64_t last_seq,
                       const std::function<void(fb::EventEnvelope*)>& edit) {
  RawLog raw(log_dir);
  Digest prev{};
  if (seq > 1) {
    const std::string before = raw.Get(seq - 1);
    prev = GetHash(fb::GetEventEnvelope(before.data())->hash());
  }
  for (uint64_t s = seq; s <= last_seq; ++s) {
    std::string v = raw.Get(s);
    auto* env = fb::GetMutableEventEnvelope(v.data());
    if (s == seq) edit(env);
    SetHash(env->mutable_prev_hash(), prev);
    prev = ChainHash(prev, v, *env);
    SetHash(env->mutable_hash(), prev);
    raw.Put(s, v);
  }
}

}  // namespace noodle::test
