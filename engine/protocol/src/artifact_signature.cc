#include "noodle/protocol/artifact_signature.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "noodle/protocol/file_hash.h"
#include "noodle/engine/names.h"

namespace noodle::engine::signing {
namespace {

constexpr std::string_view kContext = "noodle-artifact-v1";
constexpr const char* kKeyFormat = "noodle-signing-key-v1";
constexpr const char* kSigFormat = "noodle-artifact-sig-v1";
constexpr size_t kMaxSmallFile = 64 * 1024;  // keys, signatures, signer lists

void InitSodium() {
  static const int ok = sodium_init();  // thread-safe once; >= 0 on success
  (void)ok;
}

std::string Hex(std::string_view bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.pop_back();
  return out;
}

// Exactly `size` bytes from hex, or nothing.
std::optional<std::string> Unhex(std::string_view hex, size_t size) {
  if (hex.size() != size * 2) return std::nullopt;
  std::string out(size, '\0');
  size_t got = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(out.data()), size, hex.data(), hex.size(), nullptr, &got,
                     nullptr) != 0 ||
      got != size) {
    return std::nullopt;
  }
  return out;
}

Result<std::string> ReadSmall(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + " cannot be read");
  std::string text(kMaxSmallFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxSmallFile) return Status::InvalidArgument(path + " is larger than expected");
  return text;
}

// Writes the file whole with the given mode; exclusive: refuses to replace one.
Status WriteFile(const std::string& path, const std::string& text, mode_t mode, bool exclusive) {
  const std::string tmp = exclusive ? path : path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::InvalidArgument(path + " exists; refusing to overwrite it");
    return Status::IOError("cannot create " + tmp + ": " + std::strerror(errno));
  }
  fchmod(fd, mode);  // the umask must not widen or narrow what was asked for
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  const bool ok = off == text.size() && fsync(fd) == 0;
  close(fd);
  if (!ok) return Status::IOError("cannot write " + tmp);
  if (!exclusive && std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IOError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

std::string Message(std::string_view digest) {
  std::string m(kContext);
  m.append(digest);
  return m;
}

}  // namespace

std::string KeyId(std::string_view public_key) { return Hex(public_key.substr(0, 8)); }

Result<SignerKey> GenerateSignerKey(const std::string& prefix) {
  InitSodium();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  SignerKey key;
  key.public_key.assign(reinterpret_cast<const char*>(pk), sizeof pk);
  key.secret_key.assign(reinterpret_cast<const char*>(sk), sizeof sk);
  sodium_memzero(sk, sizeof sk);
  key.key_id = KeyId(key.public_key);
  nlohmann::json j = {{"format", kKeyFormat}, {"key_id", key.key_id}, {"public_key", Hex(key.public_key)},
                      {"secret_key", Hex(key.secret_key)}};
  std::string text = j.dump() + "\n";
  Status s = WriteFile(prefix + ".key", text, 0600, /*exclusive=*/true);
  sodium_memzero(text.data(), text.size());
  if (!s.ok()) return s;
  std::string name = std::filesystem::path(prefix).filename().string();
  if (!names::IsValidName(name)) name = "signer-" + key.key_id;
  if (Status p = WriteFile(prefix + ".pub", name + " " + Hex(key.public_key) + "\n", 0644, false); !p.ok()) return p;
  return key;
}

Result<SignerKey> LoadSignerKey(const std::string& path) {
  auto text = ReadSmall(path);
  if (!text.ok()) return text.status();
  SignerKey key;
  try {
    const auto j = nlohmann::json::parse(text.value());
    if (j.value("format", "") != kKeyFormat) return Status::InvalidArgument(path + " is not a " + kKeyFormat + " file");
    auto pk = Unhex(j.at("public_key").get<std::string>(), crypto_sign_PUBLICKEYBYTES);
    auto sk = Unhex(j.at("secret_key").get<std::string>(), crypto_sign_SECRETKEYBYTES);
    if (!pk || !sk) return Status::InvalidArgument(path + ": public_key or secret_key has the wrong length");
    key.public_key = *pk;
    key.secret_key = *sk;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + " is not a signer key: " + e.what());
  }
  // libsodium's secret key ends with its public key: the two halves must agree.
  if (key.secret_key.compare(crypto_sign_SEEDBYTES, crypto_sign_PUBLICKEYBYTES, key.public_key) != 0) {
    return Status::InvalidArgument(path + ": the secret key does not belong to the public key");
  }
  key.key_id = KeyId(key.public_key);
  return key;
}

Result<std::string> SignArtifact(const std::string& artifact_path, const SignerKey& key) {
  InitSodium();
  const std::string hex = FileSha256(artifact_path);
  if (hex.empty()) return Status::NotFound("artifact " + artifact_path + " cannot be read");
  const std::string message = Message(*Unhex(hex, 32));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  nlohmann::json j = {{"format", kSigFormat}, {"key_id", key.key_id}, {"public_key", Hex(key.public_key)},
                      {"sha256", hex}, {"signature", Hex({reinterpret_cast<const char*>(sig), sizeof sig})}};
  const std::string path = SignaturePath(artifact_path);
  if (Status s = WriteFile(path, j.dump() + "\n", 0644, false); !s.ok()) return s;
  return path;
}

Result<TrustedSigners> ParseTrustedSigners(std::string_view text) {
  TrustedSigners out;
  std::istringstream in{std::string(text)};
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream words(line);
    std::string name, key_hex, extra;
    words >> name >> key_hex >> extra;
    const std::string at = "trusted signers line " + std::to_string(n) + ": ";
    if (key_hex.empty() || !extra.empty()) return Status::InvalidArgument(at + "expected '<name> <public key hex>'");
    if (const std::string why = names::NameProblem(name); !why.empty()) {
      return Status::InvalidArgument(at + "signer name '" + names::Printable(name) + "' " + why);
    }
    auto pk = Unhex(key_hex, crypto_sign_PUBLICKEYBYTES);
    if (!pk) return Status::InvalidArgument(at + "the public key must be 64 hex digits");
    out.push_back({name, KeyId(*pk), *pk});
  }
  return out;
}

Result<TrustedSigners> LoadTrustedSigners(const std::string& path) {
  auto text = ReadSmall(path);
  if (!text.ok()) return text.status();
  auto signers = ParseTrustedSigners(text.value());
  if (!signers.ok()) return Status::InvalidArgument(path + ": " + signers.status().message());
  return signers;
}

Result<std::string> VerifyArtifact(const std::string& artifact_path, const TrustedSigners& signers,
                                   const std::string& declared_sha256) {
  InitSodium();
  const std::string hex = FileSha256(artifact_path);
  if (hex.empty()) return Status::NotFound("artifact " + artifact_path + " cannot be read");
  if (!declared_sha256.empty() && hex != declared_sha256) {
    return Status::Corruption("artifact hash differs from the declared sha256 (" + artifact_path + " has " + hex +
                              ", declared " + declared_sha256 + ")");
  }
  const std::string sig_path = SignaturePath(artifact_path);
  if (!std::filesystem::exists(sig_path)) return Status::NotFound("no signature file " + sig_path);
  auto text = ReadSmall(sig_path);
  if (!text.ok()) return Status::NotFound("no signature file " + sig_path + " (" + text.status().message() + ")");
  std::string key_id, sig_hex, signed_sha;
  try {
    const auto j = nlohmann::json::parse(text.value());
    if (j.value("format", "") != kSigFormat) throw std::runtime_error(std::string("format is not ") + kSigFormat);
    key_id = j.at("key_id").get<std::string>();
    sig_hex = j.at("signature").get<std::string>();
    signed_sha = j.value("sha256", "");
  } catch (const std::exception& e) {
    return Status::Corruption("signature file " + sig_path + " is malformed: " + e.what());
  }
  auto sig = Unhex(sig_hex, crypto_sign_BYTES);
  if (!sig) return Status::Corruption("signature file " + sig_path + " is malformed: signature must be 128 hex digits");
  const std::string message = Message(*Unhex(hex, 32));
  bool known = false;
  for (const auto& t : signers) {
    if (t.key_id != key_id) continue;
    known = true;
    if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                    reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                    reinterpret_cast<const unsigned char*>(t.public_key.data())) == 0) {
      return t.key_id;
    }
  }
  if (!known) return Status::NotSupported("signer " + names::Printable(key_id) + " is not trusted");
  const std::string why = signed_sha.empty() || signed_sha == hex ? "signed by another key or altered"
                                                                  : "it was made for an artifact with SHA-256 " +
                                                                        names::Printable(signed_sha) + ", this one has " + hex;
  return Status::Corruption("signature does not verify (" + sig_path + ": " + why + ")");
}

}  // namespace noodle::engine::signing
