// Crash recovery: a child appends with sync on and reports each acknowledged
// event; the parent SIGKILLs it at random moments and checks after every
// reopen that no acknowledged event is lost, seqs are gapless and the chain
// verifies.
#define BOOST_TEST_MODULE store_crash
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <sstream>

#include "noodle/store/event_log.h"
#include "support/test_support.h"

using namespace noodle;

namespace {

struct Ack {
  std::string stream;
  uint64_t version;
};

// Starts the writer; returns its pid and the read end of its stdout.
pid_t StartWriter(const std::string& dir, int threads, int* out_fd) {
  int fds[2];
  BOOST_REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const std::string t = std::to_string(threads);
    execl(CRASH_WRITER_PATH, CRASH_WRITER_PATH, dir.c_str(), t.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

// Parses complete lines from buf into acks; keeps a partial tail in buf.
void TakeLines(std::string* buf, std::map<uint64_t, Ack>* acks) {
  size_t start = 0, nl;
  while ((nl = buf->find('\n', start)) != std::string::npos) {
    std::istringstream line(buf->substr(start, nl - start));
    uint64_t seq = 0;
    Ack a;
    line >> seq >> a.stream >> a.version;
    (*acks)[seq] = a;
    start = nl + 1;
  }
  buf->erase(0, start);
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_loses_no_acknowledged_event) {
  test::TempDir dir;
  std::mt19937 rng(20261124);
  std::map<uint64_t, Ack> acks;  // every event ever acknowledged, all rounds
  constexpr int kRounds = 24;
  for (int round = 0; round < kRounds; ++round) {
    const int threads = 1 + round % 4;
    const size_t acks_before_kill = acks.size() + std::uniform_int_distribution<size_t>(1, 400)(rng);
    int fd = -1;
    const pid_t pid = StartWriter(dir.path(), threads, &fd);
    std::string buf;
    char chunk[4096];
    // Read acknowledgements until the random kill point; bounded by a
    // generous deadline so a hung child fails the test instead of hanging it.
    bool exited = false;
    for (int waits = 0; acks.size() < acks_before_kill && !exited; ++waits) {
      BOOST_REQUIRE_MESSAGE(waits < 600, "writer produced no acknowledgement for a minute");
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = read(fd, chunk, sizeof chunk);
      if (n <= 0) {
        exited = true;
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
      TakeLines(&buf, &acks);
    }
    BOOST_REQUIRE_MESSAGE(!exited, "writer exited before it was killed");
    // A little more random time in flight, then the kill.
    usleep(std::uniform_int_distribution<useconds_t>(0, 3000)(rng));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    BOOST_REQUIRE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    // Acknowledgements written before the kill still count.
    for (ssize_t n; (n = read(fd, chunk, sizeof chunk)) > 0;) {
      buf.append(chunk, static_cast<size_t>(n));
      TakeLines(&buf, &acks);
    }
    close(fd);

    std::unique_ptr<store::EventLog> log;
    Status s = store::EventLog::Open(dir.path(), {}, &log);
    BOOST_REQUIRE_MESSAGE(s.ok(), "round " << round << ": reopen: " << s.ToString());
    const uint64_t last = log->LastSeq();
    BOOST_TEST_REQUIRE(last >= acks.rbegin()->first, "round " << round << ": acknowledged seq "
                                                           << acks.rbegin()->first << " beyond last seq " << last);
    for (const auto& [seq, ack] : acks) {
      auto ev = log->Read(seq);
      BOOST_TEST_REQUIRE(ev.ok(), "round " << round << ": acknowledged seq " << seq << " lost: "
                                            << ev.status().ToString());
      BOOST_TEST_REQUIRE(ev->envelope()->stream()->str() == ack.stream);
      BOOST_TEST_REQUIRE(ev->envelope()->stream_version() == ack.version);
    }
    uint64_t checked = 0;
    s = log->Verify(1, UINT64_MAX, &checked);
    BOOST_TEST_REQUIRE(s.ok(), "round " << round << ": " << s.ToString());
    BOOST_TEST_REQUIRE(checked == last);  // gapless from 1
    BOOST_TEST_MESSAGE("round " << round << ": " << threads << " writer threads, " << acks.size()
                                << " acknowledged, last seq " << last);
  }
}
