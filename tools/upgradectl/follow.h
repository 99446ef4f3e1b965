// --wait: following one upgrade or rollback through the daemon's event
// subscription (no polling), a line per event as it happens, flushed per
// line so a pipe sees each at once; on failure, the cause and the failing
// step's last output lines.
#pragma once

#include <cstdint>

#include "daemon_commands.h"
#include "noodle/projections/component.h"

namespace noodle::tools {

// Follows upgrade `id` from `from_seq` (its UpgradeRequested) until it ends
// or `wait_ns` passes. With --json each event of the upgrade is a JSON line.
// kExitOk when it completed; kExitRejected when it ended otherwise or is
// still going after wait_ns (said on stderr); kExitUnreachable/kExitCorrupt
// when the stream fails.
int FollowUpgrade(const DaemonFlags& f, const proj::Id& id, uint64_t from_seq, int64_t wait_ns);

// The same for the rollback operation `op` (stream rollback/<op>): kExitOk
// on RollbackCompleted, kExitRejected on RollbackFailed or timeout.
int FollowRollback(const DaemonFlags& f, const proj::Id& op, uint64_t from_seq, int64_t wait_ns);

// Under `upgrade status` of an upgrade that failed: the first failed step
// (the cause) and its last output lines, read from the upgrade's stream
// (QueryEvents, then that one event from the replay endpoint). Prints
// nothing when there is none or the event cannot be read.
void PrintFailedStep(const DaemonFlags& f, const proj::Id& id);

}  // namespace noodle::tools
