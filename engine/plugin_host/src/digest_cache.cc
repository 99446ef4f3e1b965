#include "digest_cache.h"

#include "noodle/protocol/file_hash.h"

namespace noodle::plugin {
namespace {

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

std::string DigestCache::Sha256(const std::string& path) {
  struct stat before {};
  if (::stat(path.c_str(), &before) != 0) return "";
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = entries_.find(path); it != entries_.end() && SameFile(it->second.st, before)) return it->second.hex;
  }
  std::string hex = engine::FileSha256(path);
  // Kept only if the file did not change while it was read.
  struct stat after {};
  if (hex.empty() || ::stat(path.c_str(), &after) != 0 || !SameFile(before, after)) return hex;
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_[path] = Entry{after, hex};
  return hex;
}

}  // namespace noodle::plugin
