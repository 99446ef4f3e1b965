// Reading a data directory's log directly (RocksDB). upgradectl links no
// RocksDB: `upgradectl log ...` and any command given --data-dir run noodle-log,
// the same command line built with this part, from upgradectl's directory.
#pragma once

#include <cstdint>
#include <string>

#include "noodle/status.h"
#include "noodle/store/signed_head.h"

namespace noodle::tools {

// The command line needs the data directory read directly: `log ...`, or a
// --data-dir option anywhere.
bool NeedsLocalLog(int argc, char** argv);

// Replaces this process with noodle-log (beside the running program), same
// arguments. Returns only when that fails, with the exit code to use.
int RunLocalLogProgram(int argc, char** argv);

// Verifies the hash chain of DIR/log read-only. Returns the open error;
// *chain is the verification's result, *checked the events it covered.
Status VerifyLocalLog(const std::string& data_dir, uint64_t* checked, uint64_t* last, Status* chain);

// The log's last seq and the stored hash of event `seq` (*have false when it
// is not stored), read-only from DIR/log.
Status LocalLogFacts(const std::string& data_dir, uint64_t seq, uint64_t* last, store::HeadHash* hash, bool* have);

}  // namespace noodle::tools
