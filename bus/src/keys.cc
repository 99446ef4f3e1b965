#include "noodle/bus/keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <zmq.h>

namespace noodle::bus {
namespace {

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

// The line split on blanks; a line whose first non-blank is '#' is a comment.
// (Only there: '#' is a Z85 character, so it may appear inside a key.)
std::vector<std::string> Fields(const std::string& line) {
  const std::string t = Trim(line);
  if (t.empty() || t[0] == '#') return {};
  std::istringstream in(t);
  std::vector<std::string> out;
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

Status WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) return Status::Conflict(path + " exists; not overwritten");
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  fchmod(fd, mode);  // the umask must not widen or narrow what was asked
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && fsync(fd) == 0;
  close(fd);
  return ok ? Status::OK() : Status::IOError("cannot write " + path + ": " + std::strerror(errno));
}

}  // namespace

bool IsZ85Key(const std::string& key) {
  if (key.size() != 40) return false;
  uint8_t raw[32];
  return zmq_z85_decode(raw, key.c_str()) != nullptr;
}

Result<CurveKeyPair> GenerateKeyPair() {
  if (!zmq_has("curve")) return Status::NotSupported("libzmq was built without CURVE");
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) return Status::IOError(std::string("zmq_curve_keypair: ") + zmq_strerror(errno));
  return CurveKeyPair{pub, sec};
}

Status WriteKeyPair(const std::string& prefix, const CurveKeyPair& pair) {
  if (Status s = WriteFile(prefix + ".key",
                           "# NoodleCore CURVE key pair: keep this file secret (mode 0600)\npublic " + pair.public_key +
                               "\nsecret " + pair.secret_key + "\n",
                           0600);
      !s.ok()) {
    return s;
  }
  return WriteFile(prefix + ".pub", pair.public_key + "\n", 0644);
}

Result<CurveKeyPair> LoadKeyPair(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(path + " holds a secret key but is readable by group or others (chmod 600 it)");
  }
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path);
  CurveKeyPair pair;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    auto f = Fields(line);
    if (f.empty()) continue;
    if (f.size() != 2 || (f[0] != "public" && f[0] != "secret") || !IsZ85Key(f[1])) {
      return Status::InvalidArgument(path + ":" + std::to_string(n) + ": expected 'public KEY' or 'secret KEY' (Z85, 40 characters)");
    }
    (f[0] == "public" ? pair.public_key : pair.secret_key) = f[1];
  }
  if (pair.public_key.empty() || pair.secret_key.empty()) {
    return Status::InvalidArgument(path + ": a key pair file needs a 'public' and a 'secret' line");
  }
  // The public key must belong to the secret key, or the peer's handshake fails obscurely.
  char derived[41];
  if (zmq_curve_public(derived, pair.secret_key.c_str()) != 0 || pair.public_key != derived) {
    return Status::InvalidArgument(path + ": the public key does not belong to the secret key");
  }
  return pair;
}

Result<std::string> LoadPublicKey(const std::string& key_or_path) {
  if (IsZ85Key(key_or_path)) return key_or_path;
  std::ifstream in(key_or_path);
  if (!in) return Status::InvalidArgument("'" + key_or_path + "' is neither a Z85 public key nor a readable file");
  for (std::string line; std::getline(in, line);) {
    auto f = Fields(line);
    if (f.size() == 1 && IsZ85Key(f[0])) return f[0];
    if (f.size() == 2 && f[0] == "public" && IsZ85Key(f[1])) return f[1];
  }
  return Status::InvalidArgument(key_or_path + " holds no Z85 public key");
}

Result<std::vector<KeyEntry>> ParseKeysFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read keys file " + path + ": " + std::strerror(errno));
  std::vector<KeyEntry> out;
  std::map<std::string, int> seen, names;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    auto f = Fields(line);
    if (f.empty()) continue;
    const std::string where = path + ":" + std::to_string(n) + ": ";
    if (f.size() != 3) return Status::InvalidArgument(where + "expected '<roles> <name> <Z85 public key>'");
    KeyEntry e;
    std::stringstream roles(f[0]);
    for (std::string r; std::getline(roles, r, ',');) {
      const uint32_t role = RoleFromName(Trim(r));
      if (role == 0) {
        return Status::InvalidArgument(where + "unknown role '" + r + "' (observer, operator, admin, agent)");
      }
      e.roles |= role;
    }
    e.name = f[1];
    if (e.name.size() > 128) return Status::InvalidArgument(where + "name longer than 128 characters");
    for (char c : e.name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        return Status::InvalidArgument(where + "name may hold letters, digits and - _ . only");
      }
    }
    if (e.name.empty() || e.name[0] == '.' || e.name[0] == '-') {
      return Status::InvalidArgument(where + "name may not start with '.' or '-'");
    }
    // One key per name: an agent's name is what it may announce, and a second
    // key under it would speak for the same instances.
    if (auto [it, fresh] = names.emplace(e.name, n); !fresh) {
      return Status::InvalidArgument(where + "the name " + e.name + " already has a key on line " +
                                     std::to_string(it->second));
    }
    if (!IsZ85Key(f[2])) return Status::InvalidArgument(where + "not a Z85 public key (40 characters)");
    e.public_key = f[2];
    if (auto [it, fresh] = seen.emplace(e.public_key, n); !fresh) {
      return Status::InvalidArgument(where + "the same key is already on line " + std::to_string(it->second));
    }
    out.push_back(std::move(e));
  }
  return out;
}

size_t KeyRing::Replace(std::vector<KeyEntry> entries) {
  std::map<std::string, KeyEntry> next;
  for (auto& e : entries) next.emplace(e.public_key, std::move(e));
  std::unique_lock lock(mu_);
  size_t gone = 0;
  for (const auto& [key, e] : by_key_) gone += next.count(key) == 0 ? 1 : 0;
  by_key_.swap(next);
  return gone;
}

std::optional<Principal> KeyRing::Find(const std::string& public_key) const {
  std::shared_lock lock(mu_);
  auto it = by_key_.find(public_key);
  if (it == by_key_.end()) return std::nullopt;
  return Principal{it->second.name, it->second.roles, it->second.public_key, false, false};
}

size_t KeyRing::size() const {
  std::shared_lock lock(mu_);
  return by_key_.size();
}

}  // namespace noodle::bus
