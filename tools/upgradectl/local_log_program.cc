// upgradectl's half of local_log.h: the data directory is read by noodle-log.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <vector>

#include "exit_codes.h"
#include "local_log.h"

namespace noodle::tools {

bool NeedsLocalLog(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "log") return true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a(argv[i]);
    if (a == "--data-dir" || a.starts_with("--data-dir=")) return true;
  }
  return false;
}

int RunLocalLogProgram(int argc, char** argv) {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string program = (ec ? std::filesystem::path("noodle-log") : self.parent_path() / "noodle-log").string();
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  ::execv(program.c_str(), args.data());
  std::cerr << "error: reading a data directory needs " << program << ": " << std::strerror(errno) << "\n";
  return kExitUnreachable;
}

// Never reached in upgradectl: main hands such command lines to noodle-log.
Status VerifyLocalLog(const std::string&, uint64_t*, uint64_t*, Status*) {
  return Status::NotSupported("reading a data directory is noodle-log's (upgradectl runs it for --data-dir)");
}
Status LocalLogFacts(const std::string&, uint64_t, uint64_t*, store::HeadHash*, bool*) {
  return Status::NotSupported("reading a data directory is noodle-log's (upgradectl runs it for --data-dir)");
}

}  // namespace noodle::tools
