// Writes the seed corpora of the binary fuzz targets: the seed state's
// commands and more, every event they produce, and the projections'
// snapshots. Run once; its output is committed under tools/fuzz/corpus/.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "noodle/envelope.h"
#include "noodle/fb/bus_generated.h"
#include "noodle/projections/codec.h"
#include "noodle/protocol/commands.h"
#include "seed_state.h"

namespace {

void Write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_corpus DIR\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  using namespace noodle;
  const fuzz::SeedState& seed = fuzz::Seed();
  const proj::Id upgrade{0x0193'0000'0000'0001, 1};
  engine::cmd::Meta m;
  m.actor = "fuzz";
  m.command_id = proj::Id{0x0193'0000'0000'0000, 99};
  const std::vector<std::pair<std::string, std::string>> commands = {
      {"promote", engine::cmd::Promote(upgrade, m)},
      {"pause", engine::cmd::Pause(upgrade, "look", m)},
      {"cancel", engine::cmd::Cancel(upgrade, "stop", m)},
      {"rollback_point", engine::cmd::RollBack("before-release", 0, 0, "undo", m)},
      {"deregister", engine::cmd::Deregister("db", "retired", m)},
  };
  engine::State state = seed.state;
  engine::Context ctx;
  ctx.actor = "fuzz";
  ctx.now_ns = 1'700'000'001'000'000'000;
  int events = 0;
  for (const auto& e : seed.events) Write(out / "event", "event-" + std::to_string(++events), e);
  for (const auto& [name, bytes] : commands) {
    Write(out / "command", name, bytes);
    const fb::CommandEnvelope* cmd = engine::cmd::VerifyCommand(bytes);
    ctx.command_id = proj::Id::From(cmd->command_id());
    const engine::Decision d = engine::Decide(*cmd, state, ctx, engine::Limits{});
    for (const auto& batch : d.appends) {
      for (const auto& e : batch.events) Write(out / "event", "event-" + std::to_string(++events), e);
    }
  }
  Write(out / "snapshot", "registry", proj::Encode(seed.state.registry));
  Write(out / "snapshot", "status", proj::Encode(seed.state.status));
  Write(out / "snapshot", "statistics", proj::Encode(seed.statistics));
  flatbuffers::FlatBufferBuilder request;
  request.Finish(fb::CreateReplayRequest(request, 1, 10, 100, true), fb::ReplayRequestIdentifier());
  Write(out / "replay", "request", std::string(reinterpret_cast<const char*>(request.GetBufferPointer()), request.GetSize()));
  flatbuffers::FlatBufferBuilder header;
  header.Finish(fb::CreateReplayHeader(header, 1, 3, 42, header.CreateString("log failed")));
  Write(out / "replay", "header", std::string(reinterpret_cast<const char*>(header.GetBufferPointer()), header.GetSize()));
  std::cout << commands.size() << " commands, " << events << " events, 3 snapshots in " << out << "\n";
  return 0;
}
