// Helpers shared by the tests: temporary directories and small events.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "noodle/envelope.h"

namespace noodle::test {

// A fresh directory under the system temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An envelope ready to append: a ComponentDeregistered event whose reason
// pads it to about `approx_bytes` (0: small). Ids are fresh unless given.
std::string MakeEvent(const std::string& stream, size_t approx_bytes = 0, const fb::Id128* id = nullptr);
std::vector<std::string> MakeEvents(const std::string& stream, size_t n, size_t approx_bytes = 0);

// Runs argv (argv[0] a path) with stdin from `input`; returns the exit code
// and fills out/err with what it printed.
int RunProgram(const std::vector<std::string>& argv, const std::string& input, std::string* out,
               std::string* err);

// Polls cond until it holds or `seconds` pass; the bound only keeps a broken
// build from hanging (not a timing assertion). Returns the last answer.
bool WaitFor(const std::function<bool()>& cond, int seconds = 60);

// Starts argv (argv[0] a path) with stdout on a pipe and returns its pid
// once it has printed its first line, written to *first_line ("" if it
// printed nothing and exited). -1 when it cannot be started.
int SpawnUntilFirstLine(const std::vector<std::string>& argv, std::string* first_line);

}  // namespace noodle::test
