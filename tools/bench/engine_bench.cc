// engine_bench: the engine service's command throughput, projection rebuild
// and state_at, each next to a raw RocksDB baseline from the same run.
//
//   engine_bench [--components N] [--events E] [--dir D]
//
// Throughput: waves of one RequestUpgrade per component (N in flight), then
// one ReportStepResult each (the step's success, as an executor would send
// it), through Engine::Submit with sync appends. 2 commands and 7 events per
// upgrade. Baseline: the same event bytes written to a raw RocksDB in synced
// WriteBatches of 256.
// Rebuild: fold registry, status and statistics from seq 1 over the log,
// next to a raw iterator over the baseline database.
// state_at: the log is grown to E events (snapshots every 10,000), then
// StateAt(100,000) and StateAt(E) next to a fold from seq 1 to the same seq.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using namespace noodle;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

std::string Key(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(seq >> (56 - 8 * i));
  return k;
}

rocksdb::DB* OpenRaw(const std::string& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 64u << 20;
  o.max_write_buffer_number = 3;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, dir, &db).ok()) {
    std::fprintf(stderr, "cannot open raw RocksDB in %s\n", dir.c_str());
    std::exit(1);
  }
  return db;
}

struct Waves {
  uint64_t commands = 0;
  uint64_t rejected = 0;
  double seconds = 0;
};

// Runs `waves` rounds of upgrade + step result over every component.
Waves RunWaves(engine::Engine& eng, size_t components, size_t waves, size_t& version) {
  Waves w;
  const auto t0 = Clock::now();
  for (size_t k = 0; k < waves; ++k) {
    ++version;
    std::vector<std::future<engine::Reply>> replies;
    std::vector<proj::Id> ids(components);
    for (size_t c = 0; c < components; ++c) {
      engine::cmd::UpgradeRequest r;
      r.component = "svc-" + std::to_string(c);
      r.target_version = "1." + std::to_string(version) + ".0";
      r.timeout_ms = 3'600'000;
      replies.push_back(eng.Submit(engine::cmd::Upgrade(r, {}, &ids[c])));
    }
    for (auto& f : replies) {
      const engine::Reply r = f.get();
      if (!r.accepted && w.rejected++ == 0) std::fprintf(stderr, "first rejection: %s\n", r.message.c_str());
    }
    replies.clear();
    for (size_t c = 0; c < components; ++c) {
      engine::cmd::StepReport s;
      s.upgrade_id = ids[c];
      s.step = 0;
      replies.push_back(eng.Submit(engine::cmd::StepResult(s)));
    }
    for (auto& f : replies) {
      const engine::Reply r = f.get();
      if (!r.accepted && w.rejected++ == 0) std::fprintf(stderr, "first rejection: %s\n", r.message.c_str());
    }
    w.commands += 2 * components;
  }
  w.seconds = Seconds(t0);
  return w;
}

template <typename F>
double MedianMs(int runs, F&& f) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    f();
    ms.push_back(Seconds(t0) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t components = 1000;
  uint64_t target_events = 1'000'000;
  std::string dir = fs::temp_directory_path() / ("engine_bench." + std::to_string(getpid()));
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--components")) components = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--events")) target_events = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::printf("engine_bench: %u cores; %zu components, log grown to %llu events\n",
              std::thread::hardware_concurrency(), components, static_cast<unsigned long long>(target_events));

  std::unique_ptr<store::EventLog> log;
  if (Status s = store::EventLog::Open(dir + "/log", {}, &log); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  engine::EngineOptions options;
  options.limits.max_running = static_cast<uint32_t>(components);  // every wave runs at once
  std::unique_ptr<engine::Engine> eng;
  if (Status s = engine::Engine::Open(log.get(), nullptr, nullptr, options, &eng); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  for (size_t c = 0; c < components; ++c) {
    proj::Component comp;
    comp.name = "svc-" + std::to_string(c);
    comp.version = "1.0.0";
    comp.hooks["swap"] = proj::Hook{{"/bin/true"}, false, 1000};
    if (!eng->Execute(engine::cmd::Register(comp)).accepted) return 1;
  }

  // 1. Throughput through the service.
  size_t version = 0;
  const uint64_t seq_before = log->LastSeq();
  const Waves w = RunWaves(*eng, components, 20, version);
  const uint64_t events = log->LastSeq() - seq_before;
  std::vector<std::string> bytes;
  for (auto it = log->Scan(seq_before + 1); it->Valid(); it->Next()) bytes.emplace_back(it->bytes());
  rocksdb::DB* raw = OpenRaw(dir + "/raw");
  rocksdb::WriteOptions sync;
  sync.sync = true;
  const auto r0 = Clock::now();
  for (size_t i = 0; i < bytes.size();) {
    rocksdb::WriteBatch b;
    for (size_t k = 0; k < 256 && i < bytes.size(); ++k, ++i) b.Put(Key(i + 1), bytes[i]);
    raw->Write(sync, &b);
  }
  const double raw_s = Seconds(r0);
  std::printf("\ncommands through the engine  %8.0f cmd/s  (%llu commands, %llu rejected)\n",
              w.commands / w.seconds, static_cast<unsigned long long>(w.commands),
              static_cast<unsigned long long>(w.rejected));
  std::printf("events appended by it        %8.0f ev/s   raw synced WriteBatch(256) %8.0f ev/s   ratio %.2f  (%llu events)\n",
              events / w.seconds, bytes.size() / raw_s, (events / w.seconds) / (bytes.size() / raw_s),
              static_cast<unsigned long long>(events));

  // 2. Grow the log, then rebuild from seq 1 next to a raw scan.
  while (log->LastSeq() < target_events) RunWaves(*eng, components, 10, version);
  const uint64_t last = log->LastSeq();
  eng->Stop();
  eng.reset();
  {
    // The raw baseline holds the same bytes, all of them.
    raw->Close();
    delete raw;
    fs::remove_all(dir + "/raw");
    raw = OpenRaw(dir + "/raw");
    rocksdb::WriteOptions nosync;
    rocksdb::WriteBatch b;
    uint64_t k = 0;
    for (auto it = log->Scan(1); it->Valid(); it->Next()) {
      b.Put(Key(++k), it->bytes());
      if (b.Count() == 1024) {
        raw->Write(nosync, &b);
        b.Clear();
      }
    }
    raw->Write(nosync, &b);
    raw->Flush(rocksdb::FlushOptions());
  }
  auto fold = [&](uint64_t to) {
    engine::State s;
    proj::Statistics stats;
    auto it = log->Scan(1, to);
    for (; it->Valid(); it->Next()) {
      engine::Evolve(s, *it->envelope());
      proj::Evolve(stats, *it->envelope());
    }
    return s.status.seq;
  };
  for (int pass = 1; pass <= 2; ++pass) {
    const auto t0 = Clock::now();
    fold(last);
    const double ours = last / Seconds(t0);
    const auto t1 = Clock::now();
    uint64_t n = 0, sum = 0;
    std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) sum += it->value().size(), ++n;
    const double base = n / Seconds(t1);
    std::printf("rebuild from seq 1, pass %d   %8.0f ev/s   raw iterator scan          %8.0f ev/s   ratio %.2f  (%llu events)\n",
                pass, ours, base, ours / base, static_cast<unsigned long long>(last));
  }

  // 3. state_at from snapshots, next to the fold from seq 1.
  if (Status s = engine::Engine::Open(log.get(), nullptr, nullptr, options, &eng); !s.ok()) return 1;
  for (uint64_t at : {uint64_t{100'000}, last}) {
    if (at > last) continue;
    const double snap_ms = MedianMs(5, [&] { (void)eng->StateAt(at); });
    const double fold_ms = MedianMs(1, [&] { fold(at); });
    std::printf("state_at(%llu)          %8.2f ms   fold from seq 1             %8.2f ms\n",
                static_cast<unsigned long long>(at), snap_ms, fold_ms);
  }
  eng.reset();
  log.reset();
  raw->Close();
  delete raw;
  fs::remove_all(dir);
  return 0;
}
