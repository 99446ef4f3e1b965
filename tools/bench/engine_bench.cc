// engine_bench: the engine service's command throughput, projection rebuild
// and state_at, each next to a raw RocksDB baseline from the same run.
//
//   engine_bench [--components N] [--events E] [--fold-events F] [--rows LIST] [--dir D] [--keep]
//
// Throughput: per component, 20 times a RequestUpgrade and then a
// ReportStepResult (the step's success, as an executor would send it),
// through Engine::Submit with sync appends; 2 commands and 7 events per
// upgrade. Two load shapes over the same commands: "closed loop" sends each
// component's next command as soon as its last is answered (N components in
// flight, as a fleet of independent components would); "waves" sends one
// command to every component and waits for all N answers before the next
// (a barrier that leaves the engine idle at the end of each wave).
// Baseline: the same event bytes written to a raw RocksDB in synced
// WriteBatches of 256.
// Rebuild: fold registry, status and statistics from seq 1 over the log,
// next to a raw iterator over a RocksDB holding the same bytes.
// state_at: the log is grown to E events (snapshots every 10,000), then
// StateAt(100,000) and StateAt(E) next to a fold from seq 1 to the same seq.
// Large fold (only with --fold-events F): the log is grown to F events
// (appends unsynced, to get there sooner) and folded from seq 1 once; the
// figure is the time of that fold (issue 11: 10,000,000 in under 10 s).
// --rows picks rows (throughput,rebuild,state_at,fold; default all);
// --keep leaves the log in D so a later run (--dir D) skips growing it.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "noodle/protocol/commands.h"
#include "noodle/engine/engine.h"
#include "version.h"

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
  fs::remove_all(dir);
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

void CloseRaw(rocksdb::DB* db, const std::string& dir) {
  db->Close().PermitUncheckedError();
  delete db;
  fs::remove_all(dir);
}

struct Flags {
  size_t components = 1000;
  uint64_t events = 1'000'000;
  uint64_t fold_events = 0;
  std::string rows = "throughput,rebuild,state_at,fold";
  std::string dir = fs::temp_directory_path() / ("engine_bench." + std::to_string(getpid()));
  bool keep = false;

  bool Row(const char* name) const { return rows.find(name) != std::string::npos; }
};

Flags Parse(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (!std::strcmp(argv[i], "--keep")) f.keep = true;
    else if (has_value && !std::strcmp(argv[i], "--components")) f.components = std::stoul(argv[++i]);
    else if (has_value && !std::strcmp(argv[i], "--events")) f.events = std::stoull(argv[++i]);
    else if (has_value && !std::strcmp(argv[i], "--fold-events")) f.fold_events = std::stoull(argv[++i]);
    else if (has_value && !std::strcmp(argv[i], "--rows")) f.rows = argv[++i];
    else if (has_value && !std::strcmp(argv[i], "--dir")) f.dir = argv[++i];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      std::exit(2);
    }
  }
  return f;
}

// The log and the engine over it; reopened between rows as a row needs.
struct Bench {
  Flags flags;
  engine::EngineOptions options;
  std::unique_ptr<store::EventLog> log;
  std::unique_ptr<engine::Engine> eng;
  size_t version = 0;  // target versions count up across waves

  std::string LogDir() const { return flags.dir + "/log"; }

  void Open(store::Durability durability) {
    eng.reset();
    log.reset();
    store::LogOptions lo;
    lo.durability = durability;
    Status s = store::EventLog::Open(LogDir(), lo, &log);
    if (s.ok()) s = engine::Engine::Open(log.get(), nullptr, nullptr, options, &eng);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::exit(1);
    }
    // The versions already used, so a kept log's waves go on from there.
    for (const auto& [name, entry] : eng->Current().registry.components) {
      version = std::max<size_t>(version, std::stoul(entry.spec.version.substr(2)));
    }
  }
  void Close() {
    eng.reset();
    log.reset();
  }
};

void Register(Bench& b) {
  if (!b.eng->Current().registry.components.empty()) return;
  for (size_t c = 0; c < b.flags.components; ++c) {
    proj::Component comp;
    comp.name = "svc-" + std::to_string(c);
    comp.version = "1.0.0";
    comp.hooks["swap"] = proj::Hook{{"/bin/true"}, false, 1000};
    if (!b.eng->Execute(engine::cmd::Register(comp)).accepted) std::exit(1);
  }
}

struct Waves {
  uint64_t commands = 0;
  uint64_t rejected = 0;
  double seconds = 0;
};

void Count(const engine::Reply& r, Waves& w) {
  ++w.commands;
  if (!r.accepted && w.rejected++ == 0) std::fprintf(stderr, "first rejection: %s\n", r.message.c_str());
}

void AwaitAll(std::vector<std::future<engine::Reply>>& replies, Waves& w) {
  for (auto& f : replies) Count(f.get(), w);
  replies.clear();
}

// Component c's upgrade to 1.<version>.0 (its id in *id), and the success of
// that upgrade's only step, as an executor would report it.
std::string UpgradeCommand(size_t c, size_t version, proj::Id* id) {
  engine::cmd::UpgradeRequest r;
  r.component = "svc-" + std::to_string(c);
  r.target_version = "1." + std::to_string(version) + ".0";
  r.timeout_ms = 3'600'000;
  return engine::cmd::Upgrade(r, {}, id);
}

std::string StepDoneCommand(const proj::Id& upgrade_id) {
  engine::cmd::StepReport s;
  s.upgrade_id = upgrade_id;
  s.step = 0;
  return engine::cmd::StepResult(s);
}

// Runs `waves` rounds of upgrade + step result over every component.
Waves RunWaves(Bench& b, size_t waves) {
  Waves w;
  const size_t components = b.flags.components;
  const auto t0 = Clock::now();
  for (size_t k = 0; k < waves; ++k) {
    ++b.version;
    std::vector<std::future<engine::Reply>> replies;
    std::vector<proj::Id> ids(components);
    for (size_t c = 0; c < components; ++c) replies.push_back(b.eng->Submit(UpgradeCommand(c, b.version, &ids[c])));
    AwaitAll(replies, w);
    for (size_t c = 0; c < components; ++c) replies.push_back(b.eng->Submit(StepDoneCommand(ids[c])));
    AwaitAll(replies, w);
  }
  w.seconds = Seconds(t0);
  return w;
}

// Runs `rounds` upgrade + step result per component, each component's next
// command sent as soon as its last is answered. The answers arrive on the
// engine's threads; they only queue the component here, and this thread
// submits, so that no engine thread ever waits on the bench.
Waves RunClosedLoop(Bench& b, size_t rounds) {
  struct Answered {
    size_t component;
    engine::Reply reply;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Answered> answered;
  auto on_reply = [&](size_t c) {
    return [&, c](engine::Reply r) {
      std::lock_guard<std::mutex> lock(mu);
      answered.push_back({c, std::move(r)});
      cv.notify_one();
    };
  };
  const size_t components = b.flags.components;
  const size_t first_version = b.version + 1;
  std::vector<proj::Id> ids(components);
  std::vector<size_t> sent(components, 0);  // commands sent per component
  auto send = [&](size_t c) {
    std::string command =
        sent[c] % 2 == 0 ? UpgradeCommand(c, first_version + sent[c] / 2, &ids[c]) : StepDoneCommand(ids[c]);
    ++sent[c];
    b.eng->Submit(std::move(command), Principal::Local(), on_reply(c));
  };

  Waves w;
  const auto t0 = Clock::now();
  for (size_t c = 0; c < components; ++c) send(c);
  for (uint64_t outstanding = components; outstanding > 0;) {
    std::deque<Answered> ready;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !answered.empty(); });
      ready.swap(answered);
    }
    for (Answered& a : ready) {
      Count(a.reply, w);
      --outstanding;
      if (sent[a.component] < 2 * rounds) {
        send(a.component);
        ++outstanding;
      }
    }
  }
  w.seconds = Seconds(t0);
  b.version += rounds;
  return w;
}

void Grow(Bench& b, uint64_t target) {
  while (b.log->LastSeq() < target) RunWaves(b, 10);
}

// Writes bytes to a raw RocksDB under keys 1.., in (synced) batches of `batch`.
double RawWrite(rocksdb::DB* raw, const std::vector<std::string>& bytes, size_t batch, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < bytes.size();) {
    rocksdb::WriteBatch wb;
    for (size_t k = 0; k < batch && i < bytes.size(); ++k, ++i) wb.Put(Key(i + 1), bytes[i]);
    raw->Write(wo, &wb);
  }
  return Seconds(t0);
}

struct Appended {
  Waves load;
  uint64_t events = 0;
  uint64_t groups = 0;
  uint64_t first_seq = 0;
};

template <typename Load>
Appended Measure(Bench& b, Load load) {
  Appended a;
  a.first_seq = b.log->LastSeq() + 1;
  const uint64_t groups_before = b.log->Counters().group_writes;
  a.load = load();
  a.events = b.log->LastSeq() + 1 - a.first_seq;
  a.groups = b.log->Counters().group_writes - groups_before;
  return a;
}

// Raw synced WriteBatch(256) of the events a measured load appended, in ev/s.
double RawBaseline(Bench& b, const Appended& a) {
  std::vector<std::string> bytes;
  for (auto it = b.log->Scan(a.first_seq, a.first_seq + a.events - 1); it->Valid(); it->Next()) {
    bytes.emplace_back(it->bytes());
  }
  const std::string raw_dir = b.flags.dir + "/raw";
  rocksdb::DB* raw = OpenRaw(raw_dir);
  const double raw_s = RawWrite(raw, bytes, 256, /*sync=*/true);
  CloseRaw(raw, raw_dir);
  return bytes.size() / raw_s;
}

void PrintAppended(const char* shape, const Appended& a, double base) {
  const double ours = a.events / a.load.seconds;
  std::printf("\n%s: commands through the engine  %8.0f cmd/s  (%llu commands, %llu rejected)\n", shape,
              a.load.commands / a.load.seconds, static_cast<unsigned long long>(a.load.commands),
              static_cast<unsigned long long>(a.load.rejected));
  std::printf("events appended by it        %8.0f ev/s   raw synced WriteBatch(256) %8.0f ev/s   ratio %.2f  (%llu events)\n",
              ours, base, ours / base, static_cast<unsigned long long>(a.events));
  std::printf("group commits by the engine  %8llu        (%.0f events each; the raw baseline: %llu)\n",
              static_cast<unsigned long long>(a.groups), a.groups ? double(a.events) / a.groups : 0.0,
              static_cast<unsigned long long>((a.events + 255) / 256));
}

void ThroughputRow(Bench& b) {
  const Appended loop = Measure(b, [&] { return RunClosedLoop(b, 20); });
  PrintAppended("closed loop", loop, RawBaseline(b, loop));
  const Appended waves = Measure(b, [&] { return RunWaves(b, 20); });
  PrintAppended("waves", waves, RawBaseline(b, waves));
}

// Registry, status and statistics folded from seq 1 to `to`; returns the last seq folded.
uint64_t Fold(store::EventLog& log, uint64_t to) {
  engine::State s;
  proj::Statistics stats;
  auto it = log.Scan(1, to);
  for (; it->Valid(); it->Next()) {
    engine::Evolve(s, *it->envelope());
    proj::Evolve(stats, *it->envelope());
  }
  if (!it->status().ok()) std::fprintf(stderr, "fold: %s\n", it->status().ToString().c_str());
  return s.status.seq;
}

// Every value an iterator reaches, touched (its size summed); returns how many.
uint64_t CountValues(rocksdb::Iterator* it) {
  uint64_t n = 0, sum = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) sum += it->value().size(), ++n;
  if (sum == 0 && n > 0) std::fprintf(stderr, "raw scan: empty values\n");
  return n;
}

uint64_t RawScan(rocksdb::DB& raw) {
  std::unique_ptr<rocksdb::Iterator> it(raw.NewIterator(rocksdb::ReadOptions()));
  return CountValues(it.get());
}

// The same log's "events" column family read by a raw RocksDB iterator
// (opened read-only): the bytes the fold reads, without verifying or folding.
uint64_t RawScanEvents(const std::string& dir) {
  std::vector<std::string> names;
  rocksdb::Options o;
  if (!rocksdb::DB::ListColumnFamilies(o, dir, &names).ok()) return 0;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(o, dir, cfs, &handles, &db).ok()) return 0;
  uint64_t n = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "events") continue;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    n = CountValues(it.get());
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
  return n;
}

// Wall and CPU time (all of the process's threads) of one call, in seconds.
struct Timed {
  double wall = 0, cpu = 0;
};
double ProcessCpu() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
template <typename F>
Timed Time(F&& f) {
  const auto t0 = Clock::now();
  const double c0 = ProcessCpu();
  f();
  return {Seconds(t0), ProcessCpu() - c0};
}

// The raw baseline: the log's events, all of them, under keys 1.. in a raw
// RocksDB (default options), flushed to tables.
rocksdb::DB* RawCopy(store::EventLog& log, const std::string& raw_dir) {
  rocksdb::DB* raw = OpenRaw(raw_dir);
  rocksdb::WriteBatch wb;
  uint64_t k = 0;
  for (auto it = log.Scan(1); it->Valid(); it->Next()) {
    wb.Put(Key(++k), it->bytes());
    if (wb.Count() == 1024) {
      raw->Write(rocksdb::WriteOptions(), &wb);
      wb.Clear();
    }
  }
  raw->Write(rocksdb::WriteOptions(), &wb);
  raw->Flush(rocksdb::FlushOptions());
  return raw;
}

// Passes alternate ours and raw, so that machine noise hits both alike. The
// CPU time of both is printed too (the log's scan reads ahead on a second
// thread, so ours is the sum of two threads where raw has one).
void RebuildRows(Bench& b) {
  const uint64_t last = b.log->LastSeq();
  const std::string raw_dir = b.flags.dir + "/raw";
  rocksdb::DB* raw = RawCopy(*b.log, raw_dir);
  for (int pass = 1; pass <= 3; ++pass) {
    uint64_t folded = 0, scanned = 0;
    const Timed ours = Time([&] { folded = Fold(*b.log, last); });
    const Timed base = Time([&] { scanned = RawScan(*raw); });
    std::printf("rebuild from seq 1, pass %d   %8.0f ev/s   raw iterator scan          %8.0f ev/s   ratio %.2f  (%llu events)"
                "   CPU time: %.3f / %.3f s, ratio %.2f\n",
                pass, folded / ours.wall, scanned / base.wall, (folded / ours.wall) / (scanned / base.wall),
                static_cast<unsigned long long>(last), ours.cpu, base.cpu, base.cpu / ours.cpu);
  }
  CloseRaw(raw, raw_dir);
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

void StateAtRows(Bench& b) {
  const uint64_t last = b.log->LastSeq();
  for (uint64_t at : {uint64_t{100'000}, last}) {
    if (at > last) continue;
    const double snap_ms = MedianMs(5, [&] { (void)b.eng->StateAt(at); });
    const double fold_ms = MedianMs(1, [&] { Fold(*b.log, at); });
    std::printf("state_at(%llu)          %8.2f ms   fold from seq 1             %8.2f ms\n",
                static_cast<unsigned long long>(at), snap_ms, fold_ms);
  }
}

void LargeFoldRow(Bench& b) {
  b.Open(store::Durability::kNoSync);
  const auto g0 = Clock::now();
  Grow(b, b.flags.fold_events);
  const double grow_s = Seconds(g0);
  b.eng.reset();  // the fold runs alone
  const uint64_t last = b.log->LastSeq();
  ::sync();
  uint64_t folded = 0;
  const Timed fold = Time([&] { folded = Fold(*b.log, last); });
  const double s = fold.wall;
  b.log.reset();
  const auto r0 = Clock::now();
  const uint64_t scanned = RawScanEvents(b.LogDir());
  const double raw_s = Seconds(r0);
  std::printf("fold of %llu events from seq 1   %6.2f s   %8.0f ev/s   raw scan of its events family %6.2f s  %8.0f ev/s"
              "   ratio %.2f   (CPU %.2f s; log grown in %.0f s)\n",
              static_cast<unsigned long long>(folded), s, folded / s, raw_s, scanned / raw_s, (folded / s) / (scanned / raw_s),
              fold.cpu, grow_s);
}

}  // namespace

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "engine_bench")) return 0;
  Bench b;
  b.flags = Parse(argc, argv);
  const Flags& f = b.flags;
  if (!f.keep) fs::remove_all(f.dir);
  fs::create_directories(f.dir);
  std::printf("engine_bench: %u cores; %zu components, log grown to %llu events\n",
              std::thread::hardware_concurrency(), f.components, static_cast<unsigned long long>(f.events));
  b.options.limits.max_running = static_cast<uint32_t>(f.components);  // every wave runs at once

  b.Open(store::Durability::kSync);
  Register(b);
  if (f.Row("throughput")) ThroughputRow(b);
  if (f.Row("rebuild") || f.Row("state_at")) Grow(b, f.events);
  if (f.Row("rebuild")) {
    b.eng.reset();  // the rebuild runs alone
    RebuildRows(b);
    b.Open(store::Durability::kSync);
  }
  if (f.Row("state_at")) StateAtRows(b);
  if (f.Row("fold") && f.fold_events > 0) LargeFoldRow(b);
  b.Close();
  if (!f.keep) fs::remove_all(f.dir);
  return 0;
}
