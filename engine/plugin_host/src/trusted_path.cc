#include "noodle/engine/trusted_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace noodle::engine {

std::string RealPath(const std::string& path, int* error) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) {
    if (error != nullptr) *error = errno;
    return "";
  }
  return buf;
}

std::string SwappableByOthers(const std::string& real_path, const std::string& stop_at, bool allow_sticky) {
  std::filesystem::path p(real_path);
  const uid_t me = geteuid();
  for (bool first = true;; first = false) {
    struct stat st {};
    if (lstat(p.c_str(), &st) != 0) return p.string() + " cannot be checked: " + std::strerror(errno);
    if (st.st_uid != 0 && st.st_uid != me) {
      return p.string() + " belongs to uid " + std::to_string(st.st_uid) + ", not to root or this daemon's user";
    }
    const bool sticky_dir = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) != 0;
    if ((st.st_mode & 022) != 0 && !(allow_sticky && sticky_dir && !first)) {
      return p.string() + " is writable by group or others";
    }
    if (p == stop_at || !p.has_parent_path() || p.parent_path() == p) return "";
    p = p.parent_path();
  }
}

}  // namespace noodle::engine
