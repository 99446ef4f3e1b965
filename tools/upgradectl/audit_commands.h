// Signed chain heads for auditors: `audit head save FILE` keeps the daemon's
// newest signed head; `audit verify --against FILE` proves later that the log
// still holds it (not truncated, not rewritten and re-chained). The hash
// chain alone cannot show either: both leave a chain that holds.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "daemon_commands.h"

namespace noodle::tools {

struct HeadAuditFlags {
  std::string against;   // a saved SignedHead file; empty: no head check
  std::string head_key;  // a head.pub file: the head must be signed by it
  std::string out;       // audit head save: where to write the head
};

// Adds `head save FILE [--head-key FILE]` under the audit subcommand. Exit
// codes: 0 saved; 3 the daemon is unreachable or has no head yet; 4 the head
// fails its signature or is signed by another key than --head-key.
void AddAuditHeadCommands(CLI::App* audit, const std::shared_ptr<DaemonFlags>& flags, int* exit_code);

// Adds --against FILE and --head-key FILE to `audit verify`.
void AddAgainstFlags(CLI::App* verify, const std::shared_ptr<HeadAuditFlags>& flags);

// The check of `audit verify --against`: the log (read from data_dir when
// set, else over the daemon's replay endpoint) against the saved head.
// Prints one line; returns 0 when the log holds the head, 4 when it was
// truncated or rewritten or the head fails its signature/key, 2 when FILE
// cannot be read, 3 when the log or daemon cannot be reached.
int AuditAgainstHead(const DaemonFlags& f, const std::string& data_dir, const HeadAuditFlags& h);

}  // namespace noodle::tools
