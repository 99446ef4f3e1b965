// Child process of the crash test: appends with sync on from several
// threads and reports every acknowledged event as "seq stream version\n" on
// stdout, after Append has returned. It runs until killed (or a bound).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "noodle/store/event_log.h"
#include "test_support.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: log_crash_writer DIR THREADS\n");
    return 2;
  }
  std::unique_ptr<noodle::store::EventLog> log;
  noodle::Status s = noodle::store::EventLog::Open(argv[1], {}, &log);
  if (!s.ok()) {
    std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
    return 1;
  }
  const int threads = std::atoi(argv[2]);
  std::mutex out_mu;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const std::string stream = "upgrade/crash-" + std::to_string(t);
      auto version = log->StreamVersion(stream);
      if (!version.ok()) std::abort();
      uint64_t expected = version.value();
      for (int round = 0; round < 200000; ++round) {
        noodle::store::AppendResult r;
        const size_t n = 1 + static_cast<size_t>(round % 4);
        noodle::Status st = log->Append(stream, expected, noodle::test::MakeEvents(stream, n, 300), &r);
        if (!st.ok()) {
          std::fprintf(stderr, "append: %s\n", st.ToString().c_str());
          std::abort();
        }
        expected = r.stream_version;
        std::string lines;
        for (size_t i = 0; i < r.seqs.size(); ++i) {
          lines += std::to_string(r.seqs[i]) + " " + stream + " " +
                   std::to_string(r.stream_version - r.seqs.size() + 1 + i) + "\n";
        }
        std::lock_guard<std::mutex> lock(out_mu);
        if (write(1, lines.data(), lines.size()) != static_cast<ssize_t>(lines.size())) std::abort();
      }
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
