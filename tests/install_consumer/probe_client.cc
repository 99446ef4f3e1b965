// A client outside the repository: it reaches a running upgraded through
// Noodle::client alone.
//   probe_client ENDPOINT
//       prints "status seq=<log position> active=<n> recent=<n>"
//   probe_client ENDPOINT PLUGIN_DIR V0 V1 [V2 ...]
//       registers the plugin component "probe" at V0, upgrades it to V1,
//       V2, ... in turn, prints "upgrade <version> <phase>" as each ends,
//       then the status line
// Exit codes: 0 every command answered; 1 rejected or unfinished; 2 usage;
// 3 no reply (is upgraded running at ENDPOINT?).
#include <chrono>
#include <iostream>
#include <thread>

#include "noodle/bus/client.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/file_hash.h"
#include "noodle/protocol/query_result.h"
#include "noodle/protocol/reply.h"

using namespace noodle;

namespace {

// Sends one command and decodes its reply; 0 when accepted.
int Send(bus::CommandClient& client, const std::string& command, engine::Reply* reply) {
  auto bytes = client.Call(command);
  if (!bytes.ok()) {
    std::cerr << "probe_client: " << bytes.status().ToString() << "\n";
    return 3;
  }
  if (Status s = engine::DecodeReply(bytes.value(), reply); !s.ok()) {
    std::cerr << "probe_client: " << s.ToString() << "\n";
    return 1;
  }
  if (!reply->accepted) {
    std::cerr << "probe_client: rejected: " << reply->message << "\n";
    for (const auto& e : reply->errors) std::cerr << "  " << e.message << "\n";
    return 1;
  }
  return 0;
}

int PrintStatus(bus::CommandClient& client) {
  engine::Reply reply;
  if (int rc = Send(client, engine::cmd::QueryStatus(), &reply); rc != 0) return rc;
  auto status = engine::AnswerOf<fb::StatusResult>(reply);
  if (!status.ok()) {
    std::cerr << "probe_client: " << status.status().ToString() << "\n";
    return 1;
  }
  const fb::StatusResult* s = status.value();
  std::cout << "status seq=" << s->seq() << " active=" << (s->active() ? s->active()->size() : 0)
            << " recent=" << (s->recent() ? s->recent()->size() : 0) << "\n";
  return 0;
}

// The component "probe" at version, run by the plugin host; the daemon
// loads the library only with this SHA-256.
proj::Component Release(const std::string& plugin_dir, const std::string& version) {
  proj::Component c;
  c.name = "probe";
  c.version = version;
  c.type = fb::ComponentType::Library;
  c.executor = fb::ExecutorKind::Plugin;
  c.artifact_sha256 = engine::FileSha256(plugin_dir + "/probe/" + version + "/libprobe.so");
  return c;
}

// Upgrades to c.version, then asks for its status until it has ended
// (bounded: 60 s).
int Upgrade(bus::CommandClient& client, const proj::Component& c) {
  engine::cmd::UpgradeRequest request;
  request.component = c.name;
  request.target_version = c.version;
  request.target = c;
  proj::Id id;
  engine::Reply reply;
  if (int rc = Send(client, engine::cmd::Upgrade(request, {}, &id), &reply); rc != 0) return rc;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end) {
    if (int rc = Send(client, engine::cmd::QueryStatus(id), &reply); rc != 0) return rc;
    auto upgrade = engine::AnswerOf<fb::UpgradeInfo>(reply);
    if (!upgrade.ok()) {
      std::cerr << "probe_client: " << upgrade.status().ToString() << "\n";
      return 1;
    }
    if (upgrade.value()->phase() >= fb::Phase::Completed) {  // Completed and every phase after it are ends
      std::cout << "upgrade " << c.version << " " << fb::EnumNamePhase(upgrade.value()->phase()) << "\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cout << "upgrade " << c.version << " unfinished\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc < 5) {
    std::cerr << "usage: probe_client ENDPOINT [PLUGIN_DIR V0 V1 ...]\n";
    return 2;
  }
  bus::CommandClientOptions options;
  options.retries = 0;
  std::unique_ptr<bus::CommandClient> client;
  if (Status s = bus::CommandClient::Connect(argv[1], options, &client); !s.ok()) {
    std::cerr << "probe_client: " << s.ToString() << "\n";
    return 3;
  }
  if (argc >= 5) {
    engine::Reply reply;
    if (int rc = Send(*client, engine::cmd::Register(Release(argv[2], argv[3])), &reply); rc != 0) return rc;
    for (int i = 4; i < argc; ++i) {
      if (int rc = Upgrade(*client, Release(argv[2], argv[i])); rc != 0) return rc;
    }
  }
  return PrintStatus(*client);
}
