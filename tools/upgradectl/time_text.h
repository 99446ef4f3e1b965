// Times and durations as upgradectl reads them: strictly, with the expected
// form in every refusal (InvalidArgument, so exit 2).
#pragma once

#include <cstdint>
#include <string>

#include "noodle/status.h"

namespace noodle::tools {

// RFC 3339 with an offset, seconds required, fraction optional:
// 2026-11-29T04:00:00Z, 2026-11-29T05:00:00.250+01:00. Nanoseconds since the
// epoch (UTC). Anything else (no offset, a space, out-of-range fields) is refused.
Result<int64_t> ParseRfc3339(const std::string& text);

// A duration: a number and a unit, ms, s, m, h or d (500ms, 30s, 10m, 1.5h).
Result<int64_t> ParseDurationNs(const std::string& text);

// --since: an RFC 3339 time, or a duration meaning that long before now_ns.
Result<int64_t> ParseSince(const std::string& text, int64_t now_ns);

// A duration for people: 350ms, 1.2s, 4m05s, 2h03m.
std::string HumanDuration(int64_t ns);

}  // namespace noodle::tools
