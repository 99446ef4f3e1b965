// `upgradectl watch`: the upgrades as a live table, like `kubectl argo
// rollouts get rollout --watch`. On a terminal the table is redrawn in
// place; into a pipe or file each change is one new row, so a log of the
// session reads top to bottom.
#pragma once

#include <cstddef>
#include <cstdint>

#include "daemon_commands.h"
#include "noodle/projections/status.h"

namespace noodle::tools {

struct WatchLimits {
  size_t limit = SIZE_MAX;  // stop after this many events past the start
  int64_t idle_ns = 0;      // stop after this long without an event; 0: until interrupted
};

// An upgrade's steps as marks: # succeeded, > running, x failed, . pending.
std::string StepMarks(const proj::Upgrade& u);

// Folds the status from seq 1 (the subscription replays what came before),
// shows it once caught up, then every change. Returns on SIGINT or a limit.
int RunWatchTable(const DaemonFlags& f, const WatchLimits& limits);

}  // namespace noodle::tools
