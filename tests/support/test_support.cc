#include "test_support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <chrono>
#include <sstream>
#include <thread>

namespace noodle::test {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "noodle-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string MakeEvent(const std::string& stream, size_t approx_bytes, const fb::Id128* id) {
  flatbuffers::FlatBufferBuilder fbb(approx_bytes + 256);
  auto name = fbb.CreateString("component-under-test");
  const size_t overhead = 200;
  auto reason = fbb.CreateString(std::string(approx_bytes > overhead ? approx_bytes - overhead : 0, 'r'));
  auto payload = fb::CreateComponentDeregistered(fbb, name, reason);
  EventMeta meta;
  meta.event_id = id != nullptr ? *id : NewId();
  meta.stream = stream;
  meta.time_ns = 1'700'000'000'000'000'000;
  meta.actor = "test";
  return FinishEvent(fbb, meta, fb::Event::ComponentDeregistered, payload.Union());
}

std::vector<std::string> MakeEvents(const std::string& stream, size_t n, size_t approx_bytes) {
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(MakeEvent(stream, approx_bytes));
  return out;
}

int RunProgram(const std::vector<std::string>& argv, const std::string& input, std::string* out,
               std::string* err) {
  char in_path[] = "/tmp/noodle-run-in-XXXXXX";
  char out_path[] = "/tmp/noodle-run-out-XXXXXX";
  char err_path[] = "/tmp/noodle-run-err-XXXXXX";
  int in_fd = mkstemp(in_path), out_fd = mkstemp(out_path), err_fd = mkstemp(err_path);
  if (in_fd < 0 || out_fd < 0 || err_fd < 0) std::abort();
  if (write(in_fd, input.data(), input.size()) != static_cast<ssize_t>(input.size())) std::abort();
  lseek(in_fd, 0, SEEK_SET);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  auto slurp = [](const char* path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  if (out != nullptr) *out = slurp(out_path);
  if (err != nullptr) *err = slurp(err_path);
  for (int fd : {in_fd, out_fd, err_fd}) close(fd);
  for (const char* p : {in_path, out_path, err_path}) unlink(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool WaitFor(const std::function<bool()>& cond, int seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

int SpawnUntilFirstLine(const std::vector<std::string>& args, std::string* first_line) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  int out[2];
  if (pipe(out) != 0) return -1;
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  FILE* f = fdopen(out[0], "r");
  char line[512] = {0};
  *first_line = fgets(line, sizeof line, f) != nullptr ? line : "";
  fclose(f);
  return pid;
}

}  // namespace noodle::test
