#include "client_config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "noodle/bus/keys.h"

namespace noodle::tools {
namespace {

void FromEnv(const char* name, std::string* value) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') *value = v;
}

std::string ConfigPath() {
  if (const char* p = std::getenv("NOODLE_CLIENT_CONFIG"); p != nullptr && *p != '\0') return p;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  const std::string p = std::string(home) + "/.config/noodlecore/client.json";
  std::error_code ec;  // a HOME this user may not read is no config, not a crash
  return std::filesystem::exists(p, ec) ? p : "";
}

}  // namespace

Status LoadClientConfig(ClientConfig* c) {
  if (const std::string path = ConfigPath(); !path.empty()) {
    std::ifstream in(path);
    if (!in) return Status::InvalidArgument("cannot read client config " + path);
    try {
      const auto j = nlohmann::json::parse(in);
      for (const auto& [key, value] : j.items()) {
        std::string* field = key == "commands"            ? &c->commands
                             : key == "events"            ? &c->events
                             : key == "replay"            ? &c->replay
                             : key == "server_public_key" ? &c->server_public_key
                             : key == "client_key"        ? &c->client_key
                                                          : nullptr;
        if (field == nullptr) {
          return Status::InvalidArgument(path + ": unknown key '" + key +
                                         "' (commands, events, replay, server_public_key, client_key)");
        }
        if (!value.is_string()) return Status::InvalidArgument(path + ": '" + key + "' must be a string");
        *field = value.get<std::string>();
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::InvalidArgument(path + ": " + e.what());
    }
  }
  FromEnv("NOODLE_COMMANDS", &c->commands);
  FromEnv("NOODLE_EVENTS", &c->events);
  FromEnv("NOODLE_REPLAY", &c->replay);
  FromEnv("NOODLE_SERVER_PUBLIC_KEY", &c->server_public_key);
  FromEnv("NOODLE_CLIENT_KEY", &c->client_key);
  return Status::OK();
}

Result<bus::CurveClientKeys> CurveKeysOf(const ClientConfig& c) {
  bus::CurveClientKeys keys;
  if (c.server_public_key.empty() && c.client_key.empty()) return keys;
  if (c.server_public_key.empty()) {
    return Status::InvalidArgument("a client key was given but not the daemon's public key (--server-key)");
  }
  if (c.client_key.empty()) {
    return Status::InvalidArgument("the daemon's public key was given but not this client's key pair (--key)");
  }
  auto server = bus::LoadPublicKey(c.server_public_key);
  if (!server.ok()) return server.status();
  auto pair = bus::LoadKeyPair(c.client_key);
  if (!pair.ok()) return pair.status();
  keys.server_public = *server;
  keys.public_key = pair->public_key;
  keys.secret_key = pair->secret_key;
  return keys;
}

}  // namespace noodle::tools
