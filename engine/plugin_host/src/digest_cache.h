// SHA-256 of plugin libraries, computed once per version of a file. Internal
// to noodle_plugin_host.
#pragma once

#include <sys/stat.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace noodle::plugin {

// Keyed by path and the file's stat identity (device, inode, size, mtime,
// ctime): a write to the file changes its mtime and ctime, and ctime cannot
// be set from user space, so a changed file is always hashed again. What is
// cached is only ever compared with a declared digest, never trusted alone.
// Thread-safe.
class DigestCache {
 public:
  // The file's SHA-256 in lowercase hex; "" when it cannot be read.
  std::string Sha256(const std::string& path);

 private:
  struct Entry {
    struct stat st;
    std::string hex;
  };
  static constexpr size_t kMaxEntries = 4096;  // libraries, not instances: a few per plugin
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace noodle::plugin
