// Signed chain heads: Ed25519 (libsodium) over the head message, key files,
// atomic file writes, and the check of a log against a head.
#include "noodle/store/signed_head.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "noodle/envelope.h"
#include "noodle/fb/bus_generated.h"
#include "noodle/store/event_log.h"

namespace noodle::store {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kDomain = "noodle-head-v1";
constexpr size_t kMessageSize = kDomain.size() + 8 + 32 + 8;

void InitSodium() {
  // sodium_init is thread-safe and idempotent; -1 means no entropy source,
  // which makes signing keys unsafe to create: nothing sensible to go on with.
  static const bool ok = sodium_init() >= 0;
  if (!ok) std::abort();
}

void PutBE64(uint64_t v, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

std::array<uint8_t, kMessageSize> Message(uint64_t seq, const HeadHash& hash, int64_t time_ns) {
  std::array<uint8_t, kMessageSize> m{};
  std::memcpy(m.data(), kDomain.data(), kDomain.size());
  PutBE64(seq, m.data() + kDomain.size());
  std::memcpy(m.data() + kDomain.size() + 8, hash.data(), 32);
  PutBE64(static_cast<uint64_t>(time_ns), m.data() + kDomain.size() + 40);
  return m;
}

bool FromHex(std::string_view hex, uint8_t* out, size_t n) {
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.back()))) hex.remove_suffix(1);
  while (!hex.empty() && std::isspace(static_cast<unsigned char>(hex.front()))) hex.remove_prefix(1);
  if (hex.size() != 2 * n) return false;
  size_t bin_len = 0;
  return sodium_hex2bin(out, n, hex.data(), hex.size(), nullptr, &bin_len, nullptr) == 0 && bin_len == n;
}

Status Errno(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }

}  // namespace

std::string ToHex(const uint8_t* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    s.push_back(kDigits[data[i] >> 4]);
    s.push_back(kDigits[data[i] & 0xf]);
  }
  return s;
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes, unsigned mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover of a crash; O_EXCL below must not meet it
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Errno("create " + tmp);
  // The umask may have narrowed the mode; the caller's mode is the contract.
  bool ok = ::fchmod(fd, mode) == 0;
  for (size_t off = 0; ok && off < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    errno = saved;
    Status s = Errno("write " + tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Errno("rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return s;
  }
  // The rename is durable once the directory is synced.
  const fs::path parent = fs::path(path).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("open " + dir);
  const bool synced = ::fsync(dfd) == 0;
  ::close(dfd);
  return synced ? Status::OK() : Errno("fsync " + dir);
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return Status::NotFound(path + " does not exist");
    return Status::IOError("cannot read " + path);
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return Status::IOError("cannot read " + path);
  return out.str();
}

Result<HeadPublicKey> LoadPublicKey(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  HeadPublicKey pk{};
  if (!FromHex(text.value(), pk.data(), pk.size())) {
    return Status::InvalidArgument(path + " is not a head public key (64 hex digits)");
  }
  return pk;
}

HeadKey::HeadKey(HeadKey&& o) noexcept : secret_(o.secret_), public_key_(o.public_key_) {
  sodium_memzero(o.secret_.data(), o.secret_.size());
}

HeadKey& HeadKey::operator=(HeadKey&& o) noexcept {
  if (this != &o) {
    secret_ = o.secret_;
    public_key_ = o.public_key_;
    sodium_memzero(o.secret_.data(), o.secret_.size());
  }
  return *this;
}

HeadKey::~HeadKey() { sodium_memzero(secret_.data(), secret_.size()); }

std::string HeadKey::key_id() const { return ToHex(public_key_.data(), 8); }

Result<HeadKey> HeadKey::Load(const std::string& dir) {
  InitSodium();
  const std::string path = dir + "/head.key";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(path + " does not exist");
    return Errno("stat " + path);
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return Status::InvalidArgument(path + " is accessible by group or others (mode " + mode +
                                   "); chmod 600 it, or replace the key if others may have copied it");
  }
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
  if (!FromHex(text.value(), seed.data(), seed.size())) {
    sodium_memzero(text.value().data(), text.value().size());
    return Status::InvalidArgument(path + " is not a head key (64 hex digits)");
  }
  sodium_memzero(text.value().data(), text.value().size());
  HeadKey key;
  crypto_sign_seed_keypair(key.public_key_.data(), key.secret_.data(), seed.data());
  sodium_memzero(seed.data(), seed.size());
  return key;
}

Result<HeadKey> HeadKey::LoadOrCreate(const std::string& dir) {
  InitSodium();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("create " + dir + ": " + ec.message());
  auto loaded = Load(dir);
  if (!loaded.ok() && !loaded.status().IsNotFound()) return loaded.status();
  if (!loaded.ok()) {
    std::array<uint8_t, crypto_sign_SEEDBYTES> seed{};
    randombytes_buf(seed.data(), seed.size());
    std::string hex = ToHex(seed.data(), seed.size()) + "\n";
    sodium_memzero(seed.data(), seed.size());
    Status s = WriteFileAtomic(dir + "/head.key", hex, 0600);
    sodium_memzero(hex.data(), hex.size());
    if (!s.ok()) return s;
    loaded = Load(dir);
    if (!loaded.ok()) return loaded.status();
  }
  // head.pub is derived: (re)write it when missing or stale.
  const std::string pub_path = dir + "/head.pub";
  const std::string pub = ToHex(loaded->public_key().data(), 32) + "\n";
  auto current = ReadWholeFile(pub_path);
  if (!current.ok() || current.value() != pub) {
    if (Status s = WriteFileAtomic(pub_path, pub, 0644); !s.ok()) return s;
  }
  return loaded;
}

std::string HeadKey::Sign(uint64_t seq, const HeadHash& hash, int64_t time_ns) const {
  const auto msg = Message(seq, hash, time_ns);
  std::vector<uint8_t> sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, msg.data(), msg.size(), secret_.data());
  const std::vector<uint8_t> pk(public_key_.begin(), public_key_.end());
  flatbuffers::FlatBufferBuilder b(256);
  const fb::Hash256 h(flatbuffers::span<const uint8_t, 32>(hash.data(), 32));
  b.Finish(fb::CreateSignedHeadDirect(b, seq, &h, time_ns, key_id().c_str(), &pk, &sig));
  return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
}

Status VerifySignedHead(std::string_view bytes, const HeadPublicKey* expected_key, SignedHeadInfo* out) {
  InitSodium();
  // FlatBuffers must be read from aligned memory.
  const std::string copy(bytes);
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(copy.data()), copy.size());
  if (copy.empty() || !v.VerifyBuffer<fb::SignedHead>(nullptr)) {
    return Status::Corruption("signed head does not verify as a SignedHead buffer");
  }
  const auto* h = flatbuffers::GetRoot<fb::SignedHead>(copy.data());
  if (h->hash() == nullptr || h->public_key() == nullptr || h->public_key()->size() != crypto_sign_PUBLICKEYBYTES ||
      h->signature() == nullptr || h->signature()->size() != crypto_sign_BYTES || h->key_id() == nullptr) {
    return Status::Corruption("signed head lacks its hash, key, key id or signature");
  }
  SignedHeadInfo info;
  info.seq = h->seq();
  std::copy(h->hash()->bytes()->begin(), h->hash()->bytes()->end(), info.hash.begin());
  info.time_ns = h->time_ns();
  std::copy(h->public_key()->begin(), h->public_key()->end(), info.public_key.begin());
  info.key_id = h->key_id()->str();
  if (info.key_id != ToHex(info.public_key.data(), 8)) {
    return Status::Corruption("signed head's key id " + info.key_id + " does not match its public key");
  }
  if (expected_key != nullptr && *expected_key != info.public_key) {
    return Status::Corruption("signed head is signed by key " + info.key_id + ", not by the expected key " +
                              ToHex(expected_key->data(), 8));
  }
  const auto msg = Message(info.seq, info.hash, info.time_ns);
  if (crypto_sign_verify_detached(h->signature()->data(), msg.data(), msg.size(), info.public_key.data()) != 0) {
    return Status::Corruption("signed head's signature does not verify (head at seq " + std::to_string(info.seq) + ")");
  }
  *out = std::move(info);
  return Status::OK();
}

HeadMatch CompareWithHead(const SignedHeadInfo& head, uint64_t log_last_seq, const HeadHash* hash_at_head_seq) {
  if (log_last_seq < head.seq) return HeadMatch::kTruncated;
  if (head.seq == 0) return HeadMatch::kHolds;  // the empty log: nothing to pin
  if (hash_at_head_seq == nullptr || *hash_at_head_seq != head.hash) return HeadMatch::kRewritten;
  return HeadMatch::kHolds;
}

}  // namespace noodle::store
