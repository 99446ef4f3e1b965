// swap_bench: what a swap costs the callers of a plugin. One thread calls
// the counter plugin through its Router without pause; per-call latency is
// measured first with no swap running, then while another thread swaps
// 1.0.0 <-> 1.1.0 continuously (stage at 100 %, commit), in the same run.
//
//   swap_bench [--calls N] [--plugins DIR] [--no-trial]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "noodle/plugin/host.h"
#include "version.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Figures {
  double p50, p99, p999, max;
};

Figures Measure(noodle::plugin::Router* router, size_t n) {
  std::vector<double> ns(n);
  for (size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    auto r = router->Call("inc");
    ns[i] = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    if (!r.ok()) {
      std::fprintf(stderr, "call failed: %s\n", r.status().ToString().c_str());
      std::exit(1);
    }
  }
  std::sort(ns.begin(), ns.end());
  return {ns[n / 2], ns[n * 99 / 100], ns[n * 999 / 1000], ns.back()};
}

}  // namespace

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "swap_bench")) return 0;
  size_t calls = 2'000'000;
  std::string dir = PLUGIN_DIR;
  bool trial = true;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--calls") && i + 1 < argc) calls = std::stoul(argv[++i]);
    else if (!std::strcmp(argv[i], "--plugins") && i + 1 < argc) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--no-trial")) trial = false;
  }
  noodle::plugin::HostOptions o;
  o.plugin_dir = dir;
  o.require_sha256 = false;  // the bench swaps its own build's libraries
  if (trial) o.trial_program = TRIAL_PROGRAM;
  noodle::plugin::Host host(o);
  if (!host.Start("counter", "1.0.0").ok()) return 1;
  auto* router = host.Find("counter");
  std::printf("swap_bench: %u cores; %zu calls per row; trial in noodle-plugin-trial: %s\n\n", std::thread::hardware_concurrency(),
              calls, trial ? "yes" : "no");
  Measure(router, calls / 10);  // warm up
  const Figures quiet = Measure(router, calls);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> swaps{0};
  std::thread swapper([&] {
    for (uint64_t i = 0; !stop; ++i) {
      const char* to = i % 2 == 0 ? "1.1.0" : "1.0.0";
      if (!host.Stage("counter", to, "", 100).ok() || !host.Commit("counter").ok()) std::exit(2);
      ++swaps;
    }
  });
  const auto t0 = Clock::now();
  const Figures busy = Measure(router, calls);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  swapper.join();
  std::printf("no swaps       p50 %7.0f ns  p99 %7.0f ns  p99.9 %8.0f ns  max %10.0f ns\n", quiet.p50, quiet.p99, quiet.p999, quiet.max);
  std::printf("while swapping p50 %7.0f ns  p99 %7.0f ns  p99.9 %8.0f ns  max %10.0f ns  (%llu swaps, %.0f/s)\n", busy.p50,
              busy.p99, busy.p999, busy.max, static_cast<unsigned long long>(swaps.load()), swaps / seconds);
  std::printf("p99 stall (while swapping - no swaps): %.0f ns\n", busy.p99 - quiet.p99);
  return 0;
}
