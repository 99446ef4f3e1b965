// log_bench: EventLog append and scan throughput, each next to raw RocksDB
// doing the same job with the same bytes in the same run.
//
//   log_bench [--events N] [--seconds S] [--dir D] [--only [raw-]{sync,nosync}-b{1,16,256}]
//
// --only runs one append configuration alone (ours, or raw- for the
// baseline), for profiling it with perf.
//
// Append: 300-byte events in batches of 1, 16 and 256, sync on and off. Raw
// baseline: one WriteBatch per batch of the same envelope bytes under 8-byte
// keys, same sync setting. Scan: a full EventLog scan (verifying every
// value) next to a raw iterator over the baseline's database.
#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "noodle/envelope.h"
#include "noodle/store/event_log.h"
#include "version.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

std::string Event300(const std::string& stream) {
  flatbuffers::FlatBufferBuilder fbb(512);
  auto name = fbb.CreateString("db-01");
  auto reason = fbb.CreateString(std::string(36, 'r'));  // pads the envelope to about 300 bytes (304)
  auto payload = noodle::fb::CreateComponentDeregistered(fbb, name, reason);
  noodle::EventMeta meta;
  meta.event_id = noodle::NewId();
  meta.stream = stream;
  meta.time_ns = 1;
  meta.actor = "bench";
  return noodle::FinishEvent(fbb, meta, noodle::fb::Event::ComponentDeregistered, payload.Union());
}

std::string Key(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(seq >> (56 - 8 * i));
  return k;
}

struct Run {
  uint64_t events = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

Run Best(const Run& a, const Run& b) { return a.rate() >= b.rate() ? a : b; }

// Prebuilt batches, so that building events is not measured on either side.
std::vector<std::vector<std::string>> Batches(size_t batch, uint64_t total) {
  std::vector<std::vector<std::string>> out(total / batch);
  for (auto& b : out) {
    for (size_t i = 0; i < batch; ++i) b.push_back(Event300("upgrade/bench"));
  }
  return out;
}

Run RawAppend(const std::string& dir, const std::vector<std::vector<std::string>>& batches, bool sync,
              double max_seconds) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 64u << 20;
  o.max_write_buffer_number = 3;
  o.max_background_jobs = 2;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(o, dir, &db).ok()) std::abort();
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  Run r;
  uint64_t seq = 0;
  const auto start = Clock::now();
  for (const auto& b : batches) {
    rocksdb::WriteBatch wb;
    for (const auto& e : b) wb.Put(Key(++seq), e);
    if (!db->Write(wo, &wb).ok()) std::abort();
    r.events += b.size();
    if (Seconds(start) > max_seconds) break;
  }
  r.seconds = Seconds(start);
  delete db;
  return r;
}

Run LogAppend(const std::string& dir, std::vector<std::vector<std::string>> batches, bool sync, double max_seconds,
              int threads = 1) {
  noodle::store::LogOptions o;
  o.durability = sync ? noodle::store::Durability::kSync : noodle::store::Durability::kNoSync;
  std::unique_ptr<noodle::store::EventLog> log;
  if (!noodle::store::EventLog::Open(dir, o, &log).ok()) std::abort();
  std::atomic<uint64_t> events{0};
  // The stored events come back from Append; they are kept until the clock
  // stops, as the raw side keeps its strings, so neither pays for freeing.
  std::vector<std::vector<std::string>> stored(batches.size());
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < batches.size(); i += static_cast<size_t>(threads)) {
        const size_t n = batches[i].size();
        noodle::store::AppendResult res;
        noodle::Status s = log->Append("upgrade/bench", noodle::store::kAnyVersion, std::move(batches[i]), &res);
        if (!s.ok()) {
          std::fprintf(stderr, "append: %s\n", s.ToString().c_str());
          std::abort();
        }
        stored[i] = std::move(res.events);
        events += n;
        if (Seconds(start) > max_seconds) break;
      }
    });
  }
  for (auto& w : workers) w.join();
  Run r;
  r.events = events;
  r.seconds = Seconds(start);
  return r;
}

Run RawScan(const std::string& dir) {
  rocksdb::Options o;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(o, dir, &db).ok()) std::abort();
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2u << 20;
  ro.fill_cache = false;
  Run r;
  uint64_t bytes = 0;
  const auto start = Clock::now();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    bytes += it->value().size();
    ++r.events;
  }
  r.seconds = Seconds(start);
  if (bytes == 0) std::abort();
  it.reset();
  delete db;
  return r;
}

Run LogScan(const std::string& dir) {
  noodle::store::LogOptions o;
  o.mode = noodle::store::OpenMode::kReadOnly;
  std::unique_ptr<noodle::store::EventLog> log;
  if (!noodle::store::EventLog::Open(dir, o, &log).ok()) std::abort();
  Run r;
  const auto start = Clock::now();
  auto it = log->Scan(1);
  for (; it->Valid(); it->Next()) ++r.events;
  if (!it->status().ok()) std::abort();
  r.seconds = Seconds(start);
  return r;
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

// The CPU work an append adds per event on top of RocksDB: the Verifier
// pass and the chain's SHA-256 (OpenSSL EVP over prev_hash || event bytes,
// as the store computes it).
void PrintPerEventWork() {
  const std::string e = Event300("upgrade/bench");
  constexpr int kN = 200000;
  size_t ok = 0;
  auto start = Clock::now();
  for (int i = 0; i < kN; ++i) ok += noodle::VerifyEnvelope(e) != nullptr;
  const double verify_ns = Seconds(start) * 1e9 / kN;
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char digest[32] = {};
  start = Clock::now();
  for (int i = 0; i < kN; ++i) {
    unsigned int len = 0;
    EVP_DigestInit_ex2(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, digest, sizeof digest);
    EVP_DigestUpdate(ctx, e.data(), e.size());
    EVP_DigestFinal_ex(ctx, digest, &len);
  }
  const double hash_ns = Seconds(start) * 1e9 / kN;
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  std::printf("event %zu bytes; per event: Verifier %.0f ns, chain SHA-256 %.0f ns (%zu/%d)\n\n", e.size(), verify_ns,
              hash_ns, ok, digest[0] & 1);
}

void Row(const char* what, const Run& ours, const Run& raw) {
  std::printf("%-34s %12.0f ev/s   raw %12.0f ev/s   ratio %.2f   (%llu events)\n", what, ours.rate(), raw.rate(),
              raw.rate() > 0 ? ours.rate() / raw.rate() : 0.0, static_cast<unsigned long long>(ours.events));
}

}  // namespace

int main(int argc, char** argv) {
  if (noodle::tools::PrintVersionIfAsked(argc, argv, "log_bench")) return 0;
  uint64_t events = 200000;
  std::string only;  // e.g. "nosync-b256": one append configuration, ours only (for profiling)
  double seconds = 5;
  std::string base = (fs::temp_directory_path() / ("log_bench." + std::to_string(getpid()))).string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--events")) events = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::stod(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir")) base = argv[i + 1];
    else if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
  }
  std::printf("log_bench: %u cores, %s; up to %llu events or %.0f s per run\n",
              std::thread::hardware_concurrency(), CpuModel().c_str(), static_cast<unsigned long long>(events),
              seconds);
  PrintPerEventWork();
  fs::create_directories(base);

  std::string scan_raw_dir, scan_log_dir;
  for (bool sync : {true, false}) {
    for (size_t batch : {size_t{1}, size_t{16}, size_t{256}}) {
      // Sync with batch 1 is one fsync per event: fewer events keep it short.
      const uint64_t n = sync && batch == 1 ? std::min<uint64_t>(events, 20000) : events;
      auto batches = Batches(batch, n);
      const std::string tag = std::string(sync ? "sync" : "nosync") + "-b" + std::to_string(batch);
      std::string raw_dir = base + "/raw-" + tag, log_dir = base + "/log-" + tag;
      if (!only.empty()) {
        if (only == tag) std::printf("%s: %.0f ev/s\n", tag.c_str(), LogAppend(log_dir, std::move(batches), sync, seconds).rate());
        if (only == "raw-" + tag) std::printf("raw %s: %.0f ev/s\n", tag.c_str(), RawAppend(raw_dir, batches, sync, seconds).rate());
        continue;
      }
      // Interleaved twice, best of each, with dirty pages flushed before every
      // run: otherwise whichever runs second pays for the first one's writeback.
      Run raw, ours;
      for (int rep = 0; rep < 2; ++rep) {
        const std::string suffix = "." + std::to_string(rep);
        ::sync();
        raw = Best(raw, RawAppend(raw_dir + suffix, batches, sync, seconds));
        ::sync();
        ours = Best(ours, LogAppend(log_dir + suffix, batches, sync, seconds));
      }
      raw_dir += ".1";
      log_dir += ".1";
      char label[64];
      std::snprintf(label, sizeof label, "append batch %3zu, sync %s", batch, sync ? "on " : "off");
      Row(label, ours, raw);
      if (!sync && batch == 256) {
        scan_raw_dir = raw_dir;
        scan_log_dir = log_dir;
      }
    }
  }
  if (!only.empty()) return 0;
  {
    // Group commit: 8 appenders of single events share fsyncs.
    const uint64_t n = std::min<uint64_t>(events, 20000);
    const auto batches = Batches(1, n);
    ::sync();
    const Run raw = RawAppend(base + "/raw-group", batches, true, seconds);
    ::sync();
    const Run ours = LogAppend(base + "/log-group", batches, true, seconds, 8);
    Row("append batch   1, sync on, 8 thr", ours, raw);
  }
  std::printf("\n");
  for (int round = 0; round < 2; ++round) {
    ::sync();
    const Run raw = RawScan(scan_raw_dir);
    const Run ours = LogScan(scan_log_dir);
    Row(round == 0 ? "full scan, 1st pass" : "full scan, 2nd pass", ours, raw);
  }
  std::error_code ec;
  fs::remove_all(base, ec);
  return 0;
}
