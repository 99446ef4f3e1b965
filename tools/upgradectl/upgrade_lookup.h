// Upgrades as the daemon's status lists them (in flight, and the newest
// ended ones), `upgrade list`, and what an operator may type for one
// upgrade: its full id, a unique prefix of it, or a component's name (the
// component's upgrade in flight).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon_commands.h"
#include "noodle/projections/component.h"
#include "noodle/status.h"

namespace noodle::tools {

struct UpgradeRow {
  proj::Id id;
  std::string component, from, to, phase, strategy, reason;
  int64_t requested_ns = 0, started_ns = 0, finished_ns = 0;
  int weight = 0;
  bool ended = false;
};

// The upgrades of the daemon's status: in flight first, then the ended ones
// it keeps (newest last). 0, else the exit code after printing why.
int ListUpgrades(const DaemonFlags& f, std::vector<UpgradeRow>* rows);

// Which upgrade `text` names among rows: 32 hex digits name themselves (also
// one the rows do not hold); else a unique id prefix, else the component's
// upgrade in flight. InvalidArgument (exit 2) when nothing matches or more
// than one does, listing the candidates.
Result<proj::Id> ResolveIn(const std::vector<UpgradeRow>& rows, const std::string& text);

// ResolveIn against the daemon's status (asked only when text is not a full
// id). 0 and *id, else the exit code after printing why.
int ResolveUpgrade(const DaemonFlags& f, const std::string& text, proj::Id* id);

// `upgrade list [--component C] [--phase P] [--since 10m|RFC3339]`.
void AddUpgradeList(CLI::App* upgrade, const std::shared_ptr<DaemonFlags>& f, int* exit_code);

}  // namespace noodle::tools
