// Whether a file the daemon will run, load or trust could be swapped by
// someone else: the file and the directories above it must belong to root or
// to this process's user and be writable by neither group nor others.
// Confinement by path alone (realpath under a root) is not enough when a
// directory inside the root is world-writable.
#pragma once

#include <string>

namespace noodle::engine {

// realpath(3) as a string; "" when it cannot be resolved (error, when given,
// receives errno).
std::string RealPath(const std::string& path, int* error = nullptr);

// real_path must be resolved (realpath). Checks real_path and each directory
// above it up to and including stop_at ("/" checks every one). A directory
// with the sticky bit (like /tmp) is accepted when allow_sticky is set:
// others may add files there but not replace ours.
// Returns "" when none could be swapped, else what and why ("/opt/hooks/x is
// writable by group or others").
std::string SwappableByOthers(const std::string& real_path, const std::string& stop_at, bool allow_sticky);

}  // namespace noodle::engine
