// Names and size limits: one rule for every name that reaches a path, a
// stream name, a log line or a reply (components, instances, agents,
// rollback points, plugins, metadata keys), and the count/size limits on
// the lists a client sends. The decider refuses what breaks them as
// RejectCode Invalid before anything is appended, so nothing the store
// would refuse (a NUL in a stream name) ever reaches it.
//
// A name is 1..kMaxNameBytes bytes of [A-Za-z0-9._-], not starting with '.'
// or '-'. So it is never "." or "..", never holds '/', NUL, a control
// character or whitespace, and is safe as one path component, as the tail of
// a stream name ("component/<name>") and as a word in a log line.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace noodle::engine::names {

constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxInstances = 1024;         // per component and per agent
constexpr size_t kMaxDependencies = 256;
constexpr size_t kMaxMetadataEntries = 64;
constexpr size_t kMaxMetadataValueBytes = 1024;
constexpr size_t kMaxHookArgs = 64;            // argv entries of one hook
constexpr size_t kMaxHookBytes = 16 * 1024;    // all argv bytes of one hook
constexpr size_t kMaxWeights = 20;             // canary weights
constexpr size_t kMaxRangeBytes = 256;         // a dependency's SemVer range
constexpr size_t kMaxLocationBytes = 4096;     // an artifact location (a path or URL)
constexpr size_t kMaxTextBytes = 4096;         // free text: reasons, requested_by

// Empty when `name` follows the rule above; otherwise why not, in words
// ("contains '/'", "is longer than 128 bytes"), without echoing the name.
std::string NameProblem(std::string_view name);
inline bool IsValidName(std::string_view name) { return NameProblem(name).empty(); }

// Empty when `text` (free text: a reason, a metadata value) is at most
// max_bytes and holds no NUL or other control character except tab;
// otherwise why not.
std::string TextProblem(std::string_view text, size_t max_bytes);

// `s` made safe to quote in a message: control bytes as \xNN, and cut to
// 64 bytes with "..." (a 1 MB name does not make a 1 MB reply).
std::string Printable(std::string_view s);

// Hook programs (argv[0]) and their roots, lexically: no filesystem access.
// Empty when `path` is absolute, holds no NUL and no "." or ".." component;
// otherwise why not ("has a '..' component").
std::string HookPathProblem(std::string_view path);
// True when `path` lies strictly below the directory `root` (absolute),
// component-wise: /opt/hooks2/x is not under /opt/hooks.
bool UnderRoot(std::string_view path, std::string_view root);
bool UnderAnyRoot(std::string_view path, const std::vector<std::string>& roots);

}  // namespace noodle::engine::names
