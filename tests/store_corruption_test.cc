// Corruption: tampered, truncated, garbage and missing values, and a damaged
// SST file, are reported as Corruption with their seq; nothing crashes.
#define BOOST_TEST_MODULE store_corruption
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "noodle/store/event_log.h"
#include "support/raw_rocks.h"
#include "support/test_support.h"

using namespace noodle;
using noodle::store::EventLog;
using noodle::store::LogOptions;
using noodle::test::MakeEvents;
using noodle::test::RawLog;
using noodle::test::TempDir;

namespace {

void WriteLog(const std::string& dir, int events) {
  std::unique_ptr<EventLog> log;
  BOOST_REQUIRE(EventLog::Open(dir, LogOptions{}, &log).ok());
  for (int i = 0; i < events; ++i) {
    store::AppendResult r;
    const std::string stream = "component/c" + std::to_string(i % 3);
    BOOST_REQUIRE(log->Append(stream, store::kAnyVersion, MakeEvents(stream, 1, 300), &r).ok());
  }
}

std::unique_ptr<EventLog> OpenReader(const std::string& dir) {
  LogOptions o;
  o.mode = store::OpenMode::kReadOnly;
  std::unique_ptr<EventLog> log;
  Status s = EventLog::Open(dir, o, &log);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return log;
}

}  // namespace

BOOST_AUTO_TEST_CASE(any_flipped_byte_is_reported_at_exactly_its_seq) {
  TempDir dir;
  WriteLog(dir.path(), 10);
  constexpr uint64_t kVictim = 6;
  RawLog raw(dir.path());
  const std::string original = raw.Get(kVictim);
  size_t reported_by_hash = 0, reported_by_verifier = 0;
  // Every byte of the stored value, one at a time.
  for (size_t offset = 0; offset < original.size(); ++offset) {
    std::string tampered = original;
    tampered[offset] = static_cast<char>(tampered[offset] ^ 0x5a);
    raw.Put(kVictim, tampered);
    auto log = OpenReader(dir.path());
    const Status s = log->Verify(1, UINT64_MAX);
    BOOST_TEST_REQUIRE(s.IsCorruption(), "offset " << offset << ": " << s.ToString());
    BOOST_TEST_REQUIRE(s.seq().has_value());
    BOOST_TEST_REQUIRE(*s.seq() == kVictim, "offset " << offset << ": reported " << s.ToString());
    (s.message().find("verification") != std::string::npos ? reported_by_verifier : reported_by_hash)++;
  }
  raw.Put(kVictim, original);
  BOOST_TEST(OpenReader(dir.path())->Verify(1, UINT64_MAX).ok());
  // Most flips leave a well-formed buffer; the chain is what catches them.
  BOOST_TEST(reported_by_hash > 0u);
  BOOST_TEST_MESSAGE("flips caught by hash " << reported_by_hash << ", by verifier " << reported_by_verifier);
}

BOOST_AUTO_TEST_CASE(truncated_and_garbage_values_are_corruption_with_their_seq) {
  TempDir dir;
  WriteLog(dir.path(), 8);
  const std::vector<std::pair<uint64_t, std::function<std::string(std::string)>>> damage = {
      {3, [](std::string v) { return v.substr(0, v.size() / 2); }},
      {5, [](std::string) { return std::string("garbage, not a flatbuffer at all"); }},
      {7, [](std::string) { return std::string(); }},
      {4, [](std::string v) { return v.substr(0, 3); }},
  };
  for (const auto& [seq, fn] : damage) {
    std::string original;
    {
      RawLog raw(dir.path());
      original = raw.Get(seq);
      raw.Put(seq, fn(original));
    }
    auto log = OpenReader(dir.path());
    auto read = log->Read(seq);
    BOOST_TEST(read.status().IsCorruption());
    BOOST_TEST(read.status().seq().value_or(0) == seq);
    {
      auto it = log->Scan(1);
      uint64_t last_good = 0;
      for (; it->Valid(); it->Next()) last_good = it->seq();
      BOOST_TEST(last_good == seq - 1);
      BOOST_TEST(it->status().IsCorruption());
      BOOST_TEST(it->status().seq().value_or(0) == seq);
    }
    const Status v = log->Verify(1, UINT64_MAX);
    BOOST_TEST(v.seq().value_or(0) == seq);
    std::vector<store::StoredEvent> stream;
    // The stream index leads to the damaged value: reported, not crashed on.
    for (int c = 0; c < 3; ++c) {
      Status rs = log->ReadStream("component/c" + std::to_string(c), 1, 100, &stream);
      if (!rs.ok()) BOOST_TEST(rs.seq().value_or(0) == seq);
    }
    log.reset();
    RawLog(dir.path()).Put(seq, original);
  }
  BOOST_TEST(OpenReader(dir.path())->Verify(1, UINT64_MAX).ok());
}

// A scan of 16,384 events or more reads and verifies ahead on a thread of
// its own: a damaged value deep in it, at the start, in the middle and at
// the end of a read-ahead batch, still ends the scan at exactly its seq,
// after every event before it.
BOOST_AUTO_TEST_CASE(a_long_scan_stops_at_a_damaged_value_with_its_seq) {
  TempDir dir;
  constexpr uint64_t kEvents = 20'000;
  {
    std::unique_ptr<EventLog> log;
    LogOptions o;
    o.durability = store::Durability::kNoSync;
    BOOST_REQUIRE(EventLog::Open(dir.path(), o, &log).ok());
    for (uint64_t i = 0; i < kEvents / 500; ++i) {
      store::AppendResult r;
      const std::string stream = "component/c" + std::to_string(i);
      BOOST_REQUIRE(log->Append(stream, store::kAnyVersion, MakeEvents(stream, 500, 200), &r).ok());
    }
  }
  for (const uint64_t seq : {uint64_t{2}, uint64_t{1025}, uint64_t{9000}, uint64_t{19'999}, kEvents}) {
    std::string original;
    {
      RawLog raw(dir.path());
      original = raw.Get(seq);
      raw.Put(seq, seq % 2 == 0 ? std::string("not an envelope") : raw.Get(seq - 1));
    }
    {
      auto log = OpenReader(dir.path());
      auto it = log->Scan(1);
      uint64_t seen = 0, last = 0;
      for (; it->Valid(); it->Next()) ++seen, last = it->seq();
      BOOST_TEST(seen == seq - 1);
      BOOST_TEST(last == seq - 1);
      BOOST_TEST(it->status().IsCorruption(), it->status().ToString());
      BOOST_TEST(it->status().seq().value_or(0) == seq);
    }
    RawLog(dir.path()).Put(seq, original);
  }
  auto log = OpenReader(dir.path());
  uint64_t seen = 0;
  auto it = log->Scan(1);
  for (; it->Valid(); it->Next()) ++seen;
  BOOST_TEST(it->status().ok());
  BOOST_TEST(seen == kEvents);
}

BOOST_AUTO_TEST_CASE(a_missing_event_is_reported_as_a_gap) {
  TempDir dir;
  WriteLog(dir.path(), 6);
  RawLog(dir.path()).Delete(4);
  auto log = OpenReader(dir.path());
  const Status s = log->Verify(1, UINT64_MAX);
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.seq().value_or(0) == 4u);
  BOOST_TEST(log->Read(4).status().IsNotFound());
}

BOOST_AUTO_TEST_CASE(an_event_moved_to_another_seq_is_caught) {
  TempDir dir;
  WriteLog(dir.path(), 6);
  {
    RawLog raw(dir.path());
    raw.Put(5, raw.Get(2));  // a valid event, stored under the wrong seq
  }
  auto log = OpenReader(dir.path());
  BOOST_TEST(log->Read(5).status().IsCorruption());
  BOOST_TEST(log->Verify(1, UINT64_MAX).seq().value_or(0) == 5u);
}

BOOST_AUTO_TEST_CASE(a_writer_refuses_to_extend_a_corrupt_tail) {
  TempDir dir;
  WriteLog(dir.path(), 5);
  RawLog(dir.path()).Put(5, "junk");
  std::unique_ptr<EventLog> log;
  const Status s = EventLog::Open(dir.path(), LogOptions{}, &log);
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.seq().value_or(0) == 5u);
  // Readers still open it, to audit.
  BOOST_TEST(OpenReader(dir.path())->Verify(1, UINT64_MAX).seq().value_or(0) == 5u);
}

BOOST_AUTO_TEST_CASE(damaged_sst_file_is_reported_not_crashed_on) {
  TempDir dir;
  WriteLog(dir.path(), 600);
  RawLog(dir.path()).FlushAll();
  // Damage the middle of the largest table file: the event values live there.
  std::filesystem::path biggest;
  uintmax_t size = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().extension() == ".sst" && e.file_size() > size) {
      size = e.file_size();
      biggest = e.path();
    }
  }
  BOOST_REQUIRE(!biggest.empty());
  {
    std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
    for (uintmax_t off = size / 4; off < size / 2; off += 997) {
      f.seekg(static_cast<std::streamoff>(off));
      char c;
      f.get(c);
      f.seekp(static_cast<std::streamoff>(off));
      f.put(static_cast<char>(c ^ 0xff));
    }
  }
  LogOptions o;
  o.mode = store::OpenMode::kReadOnly;
  std::unique_ptr<EventLog> log;
  Status s = EventLog::Open(dir.path(), o, &log);
  if (s.ok()) s = log->Verify(1, UINT64_MAX);
  BOOST_TEST(s.IsCorruption(), s.ToString());
  BOOST_TEST_MESSAGE("damaged SST: " << s.ToString());
}

BOOST_AUTO_TEST_CASE(upgradectl_log_verify_exits_non_zero_and_names_the_seq) {
  TempDir data;  // upgradectl reads a data directory's log, DIR/log
  const std::string log_dir = data.path() + "/log";
  WriteLog(log_dir, 9);
  std::string out, err;
  BOOST_TEST(test::RunProgram({UPGRADECTL_PATH, "log", "verify", "--data-dir", data.path()}, "", &out, &err) == 0);
  BOOST_TEST(out.find("9 events verified") != std::string::npos);
  {
    RawLog raw(log_dir);
    std::string v = raw.Get(7);
    v[v.size() - 20] ^= 1;
    raw.Put(7, v);
  }
  const int rc = test::RunProgram({UPGRADECTL_PATH, "log", "verify", "--data-dir", data.path()}, "", &out, &err);
  BOOST_TEST(rc == 4);
  BOOST_TEST(out.find("seq 7") != std::string::npos, out);
  test::RunProgram({UPGRADECTL_PATH, "log", "verify", "--json", "--data-dir", data.path()}, "", &out, &err);
  BOOST_TEST(out.find("\"first_bad_seq\":7") != std::string::npos, out);
}
