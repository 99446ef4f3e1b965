#include "startup_check.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "head_signer.h"
#include "noodle/protocol/commands.h"
#include "noodle/protocol/reply.h"

namespace noodle::daemon {
namespace {

// Recomputes the chain over [from, to] in slices that end at multiples of
// `every` and checkpoints each one as it holds. A missing predecessor of
// `from` (Verify reads its hash) is reported as the damage it is.
Status VerifyRange(store::EventLog* log, uint64_t from, uint64_t to, const StartupCheckOptions& o, uint64_t* checked) {
  const uint64_t every = std::max<uint64_t>(1, o.checkpoint_every);
  for (uint64_t lo = from; lo <= to;) {
    const uint64_t boundary = lo - lo % every + every;  // the next multiple above lo - 1
    const uint64_t hi = std::min(to, boundary);
    uint64_t n = 0;
    Status s = log->Verify(lo, hi, &n);
    *checked += n;
    if (s.IsNotFound() && lo > 1) {
      return Status::Corruption("event " + std::to_string(lo - 1) + " is missing (" + s.message() + ")", lo - 1);
    }
    if (!s.ok()) return s;
    if (o.write_checkpoints && hi % every == 0) {
      if (Status c = log->PutCheckpoint(kChainVerifiedCheckpoint, hi); !c.ok()) return c;
    }
    lo = hi + 1;
  }
  return Status::OK();
}

}  // namespace

StartupCheck VerifyAtStart(store::EventLog* log, const std::string& head_path, const store::HeadPublicKey* key,
                           const StartupCheckOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  StartupCheck r;
  auto finish = [&](Status s) {
    r.status = std::move(s);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
  };
  const uint64_t last = log->LastSeq();

  auto bytes = store::ReadWholeFile(head_path);
  if (!bytes.ok() && !bytes.status().IsNotFound()) return finish(bytes.status());
  if (bytes.ok()) {
    if (Status s = store::VerifySignedHead(bytes.value(), key, &r.head); !s.ok()) {
      return finish(Status::Corruption(head_path + ": " + s.message()));
    }
    r.have_head = true;
  }

  // Deleted newest events first: nothing in the chain itself shows them.
  if (r.have_head && last < r.head.seq) return finish(store::CheckLogAgainstHead(*log, r.head));

  // Where the verified prefix ends. The checkpoint lives in the log, so
  // whoever can rewrite events can move it too: it is trusted no further
  // than the signed head, which pins everything up to its seq.
  auto cp = log->GetCheckpoint(kChainVerifiedCheckpoint);
  uint64_t verified = cp.ok() ? cp.value() : 0;
  if (verified > last) {
    // The checkpoint is written (synced) after the events it covers.
    return finish(Status::Corruption("log ends at seq " + std::to_string(last) + ", below the chain-verified checkpoint at seq " +
                                         std::to_string(verified) + " (events deleted)",
                                     last + 1));
  }
  if (r.have_head) verified = std::min(verified, r.head.seq);
  r.from = verified + 1;
  r.to = last;

  if (Status s = VerifyRange(log, r.from, r.to, options, &r.checked); !s.ok()) return finish(std::move(s));
  if (r.have_head) {
    if (Status s = store::CheckLogAgainstHead(*log, r.head); !s.ok()) return finish(std::move(s));
  }
  return finish(Status::OK());
}

int CheckBeforeStart(store::EventLog* log, const std::string& data_dir, bool inspect, const StartupCheckOptions& options,
                     std::optional<store::HeadKey>* key, Status* damage) {
  // Heads were signed here before (the log says so): their files must still
  // be there. Deleting them would otherwise turn every check below off.
  const auto signed_before = log->GetCheckpoint(kHeadSignedCheckpoint);
  if (signed_before.ok()) {
    for (const char* file : {"head.key", "head.signed"}) {
      if (!inspect && !std::filesystem::exists(data_dir + "/" + file)) {
        std::cerr << "upgraded: " << data_dir << "/" << file << " is missing, yet a head was signed at seq "
                  << signed_before.value() << "; refusing to start (--inspect serves the log read-only)\n";
        return 4;
      }
    }
  }
  auto loaded = inspect ? store::HeadKey::Load(data_dir) : store::HeadKey::LoadOrCreate(data_dir);
  std::optional<store::HeadPublicKey> public_key;
  if (loaded.ok()) {
    public_key = loaded->public_key();
    key->emplace(std::move(loaded.value()));
  } else if (!inspect) {
    std::cerr << "upgraded: head key in " << data_dir << ": " << loaded.status().ToString() << "\n";
    return 1;
  } else if (auto pub = store::LoadPublicKey(data_dir + "/head.pub"); pub.ok()) {
    public_key = pub.value();  // inspecting: the public half is enough
  }

  const std::string head_path = data_dir + "/head.signed";
  const StartupCheck c = VerifyAtStart(log, head_path, public_key ? &*public_key : nullptr, options);
  if (c.status.IsCorruption()) {
    if (!inspect) {
      std::cerr << "upgraded: the log in " << data_dir << " is damaged"
                << (c.status.seq() ? " at seq " + std::to_string(*c.status.seq()) : std::string()) << ": "
                << c.status.message() << "; refusing to start (--inspect serves it read-only)\n";
      return 4;
    }
    *damage = c.status;
    spdlog::warn("upgraded: inspecting a damaged log: {}", c.status.ToString());
    return 0;
  }
  if (!c.status.ok()) {
    std::cerr << "upgraded: cannot check the log in " << data_dir << ": " << c.status.ToString() << "\n";
    return 1;
  }
  const std::string head_note =
      c.have_head ? "signed head at seq " + std::to_string(c.head.seq) + " holds" : std::string("no signed head yet");
  if (c.from > c.to) {
    spdlog::info("upgraded: chain verified up to seq {} (checkpoint); {}", c.to, head_note);
  } else {
    spdlog::info("upgraded: chain verified over seqs {}..{} ({} events) in {:.1f} ms; {}", c.from, c.to, c.checked,
                 c.seconds * 1e3, head_note);
  }
  if (!c.have_head && log->LastSeq() > 0) {
    spdlog::warn("upgraded: no signed head in {}: the log's {} events are anchored only from now on", data_dir,
                 log->LastSeq());
  }
  return 0;
}

bus::CommandHandler RefuseCommands(std::string why) {
  return [why = std::move(why)](std::string command, Principal, std::function<void(std::string)> respond) {
    proj::Id id;
    if (const auto* cmd = engine::cmd::VerifyCommand(command)) id = proj::Id::From(cmd->command_id());
    engine::Reply r;
    r.accepted = false;
    r.code = fb::RejectCode::Unavailable;
    r.message = why;
    respond(engine::EncodeReply(id, r));
  };
}

}  // namespace noodle::daemon
