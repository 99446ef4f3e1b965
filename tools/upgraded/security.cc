#include "security.h"

#include "noodle/engine/trusted_path.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace noodle::daemon {

Status PrepareDataDir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status::IOError("cannot stat " + dir + ": " + std::strerror(errno));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
    if (chmod(dir.c_str(), 0700) != 0) return Status::IOError("cannot chmod " + dir + ": " + std::strerror(errno));
    return Status::OK();
  }
  if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(dir + " is not a directory");
  if (st.st_uid != geteuid()) {
    return Status::InvalidArgument("data directory " + dir + " is owned by uid " + std::to_string(st.st_uid) +
                                   ", not by this daemon's uid " + std::to_string(geteuid()));
  }
  if ((st.st_mode & 022) != 0) {
    return Status::InvalidArgument("data directory " + dir +
                                   " is writable by group or others, who could rewrite the log (chmod 700 it)");
  }
  return Status::OK();
}

Status CheckTrustedFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  const auto real = std::filesystem::canonical(path, ec);
  if (ec) return Status::IOError("cannot read " + what + " " + path + ": " + ec.message());
  if (std::string why = engine::SwappableByOthers(real.string(), "/", true); !why.empty()) {
    return Status::InvalidArgument(what + " " + path + " could be replaced by another user: " + why);
  }
  return Status::OK();
}

Status ConfigureBusSecurity(const std::string& keys_file, const std::string& server_key_file,
                            bool allow_plaintext_remote, bus::ServerOptions* o) {
  if (keys_file.empty()) {
    for (const std::string* ep : {&o->command_endpoint, &o->event_endpoint, &o->replay_endpoint}) {
      if (bus::IsLoopbackEndpoint(*ep)) continue;
      if (!allow_plaintext_remote) {
        return Status::InvalidArgument(
            "refusing to bind " + *ep + " without --keys: the bus would be plaintext and unauthenticated on an "
            "address other machines reach. Give --keys FILE (CURVE), bind 127.0.0.1 or ipc://, or pass "
            "--insecure-plaintext-bind-non-loopback");
      }
      spdlog::critical("upgraded: {} is bound WITHOUT authentication or encryption: anyone who reaches it can run "
                       "upgrades (--insecure-plaintext-bind-non-loopback)",
                       *ep);
    }
    spdlog::warn("upgraded: no keys file: the bus is plaintext and every local client holds every role "
                 "(bound to loopback/ipc only)");
    return Status::OK();
  }
  if (Status s = CheckTrustedFile(keys_file, "keys file"); !s.ok()) return s;
  auto entries = bus::ParseKeysFile(keys_file);
  if (!entries.ok()) return entries.status();
  if (access(server_key_file.c_str(), F_OK) != 0) {
    const std::string suffix = ".key";
    if (!server_key_file.ends_with(suffix)) {
      return Status::InvalidArgument("server key " + server_key_file + " does not exist");
    }
    auto pair = bus::GenerateKeyPair();
    if (!pair.ok()) return pair.status();
    const std::string prefix = server_key_file.substr(0, server_key_file.size() - suffix.size());
    if (Status s = bus::WriteKeyPair(prefix, *pair); !s.ok()) return s;
    spdlog::info("upgraded: created the server key pair {} (public key in {}.pub)", server_key_file, prefix);
  }
  auto pair = bus::LoadKeyPair(server_key_file);
  if (!pair.ok()) return pair.status();
  o->curve = *pair;
  o->keyring = std::make_shared<bus::KeyRing>(std::move(*entries));
  spdlog::info("upgraded: CURVE on every endpoint; {} keys from {}; server public key {}", o->keyring->size(),
               keys_file, o->curve.public_key);
  return Status::OK();
}

void ReloadKeys(const std::string& keys_file, bus::KeyRing* ring, bus::Server* server) {
  if (Status s = CheckTrustedFile(keys_file, "keys file"); !s.ok()) {
    spdlog::error("upgraded: SIGHUP: keys file not reloaded, the old keys stay: {}", s.message());
    return;
  }
  auto entries = bus::ParseKeysFile(keys_file);
  if (!entries.ok()) {
    spdlog::error("upgraded: SIGHUP: keys file not reloaded, the old keys stay: {}", entries.status().message());
    return;
  }
  const size_t count = entries->size();
  const size_t gone = ring->Replace(std::move(*entries));
  spdlog::info("upgraded: SIGHUP: {} keys loaded from {}; {} removed", count, keys_file, gone);
  if (gone > 0 && server != nullptr) {
    if (Status s = server->Reauthenticate(); !s.ok()) spdlog::error("upgraded: {}", s.ToString());
  }
}

}  // namespace noodle::daemon
