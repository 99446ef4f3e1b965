// What upgraded checks before it serves a log, and how it serves one that
// failed the check (--inspect).
//
// The check: the hash chain from the "chain-verified" checkpoint to the last
// seq (a flipped byte, a missing event), and the log against the newest
// signed head in <data>/head.signed (deleted newest events, a rewritten and
// re-chained history). Old events below the checkpoint are not re-verified
// at every start: `upgradectl audit verify` checks the whole chain.
//
// Thread safety: VerifyAtStart runs before any other thread uses the log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "noodle/bus/server.h"
#include "noodle/status.h"
#include "noodle/store/event_log.h"
#include "noodle/store/signed_head.h"

namespace noodle::daemon {

struct StartupCheckOptions {
  // Write the "chain-verified" checkpoint at each multiple of this many
  // verified events (one synced write each): the next start resumes there.
  uint64_t checkpoint_every = 100'000;
  // False for a read-only log (--inspect): nothing is written.
  bool write_checkpoints = true;
};

struct StartupCheck {
  // OK; Corruption naming the first bad seq (Status::seq) and why; IOError
  // when head.signed exists but cannot be read.
  Status status;
  uint64_t from = 0, to = 0;  // the seqs whose chain was recomputed (from > to: none)
  uint64_t checked = 0;       // events examined
  bool have_head = false;     // head.signed was present and verified
  store::SignedHeadInfo head;
  double seconds = 0;
};

// key: the daemon's public key; the head must be signed by it (null: any
// valid signature, when no key is available, e.g. --inspect without head.key).
StartupCheck VerifyAtStart(store::EventLog* log, const std::string& head_path, const store::HeadPublicKey* key,
                           const StartupCheckOptions& options);

// upgraded's start-up step: loads the head key from data_dir (creating it
// unless inspect), runs VerifyAtStart on log against <data_dir>/head.signed
// and logs the outcome. Returns 0 to go on, else the exit code to stop with:
// 1 when the check cannot run (key unreadable), 4 when the log is damaged
// and not inspect (the reason, naming the first bad seq, is on stderr).
// Inspecting a damaged log returns 0 with *damage set. *key receives the
// key (inspect: when there is one).
int CheckBeforeStart(store::EventLog* log, const std::string& data_dir, bool inspect, const StartupCheckOptions& options,
                     std::optional<store::HeadKey>* key, Status* damage);

// The command handler of --inspect: every command gets Rejected/Unavailable
// with `why` ("read-only inspection: the log is damaged at seq N").
bus::CommandHandler RefuseCommands(std::string why);

}  // namespace noodle::daemon
