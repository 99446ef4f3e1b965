// Exit codes of upgradectl, documented in README.md.
#pragma once

#include "noodle/status.h"

namespace noodle::tools {

enum ExitCode : int {
  kExitOk = 0,
  kExitRejected = 1,     // the request was understood and refused (e.g. a version conflict)
  kExitUsage = 2,        // bad flags or bad input; nothing was changed
  kExitUnreachable = 3,  // the log or the daemon cannot be reached (missing, locked, I/O)
  kExitCorrupt = 4,      // stored data is corrupt or tampered with
};

inline int ExitCodeFor(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return kExitOk;
    case Status::Code::kConflict: return kExitRejected;
    case Status::Code::kInvalidArgument: return kExitUsage;
    case Status::Code::kCorruption: return kExitCorrupt;
    default: return kExitUnreachable;
  }
}

}  // namespace noodle::tools
