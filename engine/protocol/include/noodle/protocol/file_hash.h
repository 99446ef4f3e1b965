// SHA-256 of a file, for artifact checks. Internal to engine/.
#pragma once

#include <string>

namespace noodle::engine {

// 64 lowercase hex digits, or "" when the file cannot be read.
std::string FileSha256(const std::string& path);

}  // namespace noodle::engine
