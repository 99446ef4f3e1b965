// EventLog behaviour on a real RocksDB in a temp dir.
#define BOOST_TEST_MODULE store_log
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "noodle/store/event_log.h"
#include "support/test_support.h"

using namespace noodle;
using noodle::store::AppendResult;
using noodle::store::EventLog;
using noodle::store::LogOptions;
using noodle::store::OpenMode;
using noodle::test::MakeEvent;
using noodle::test::MakeEvents;
using noodle::test::TempDir;

namespace {

std::unique_ptr<EventLog> OpenOrDie(const std::string& dir, LogOptions o = {}) {
  std::unique_ptr<EventLog> log;
  Status s = EventLog::Open(dir, o, &log);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return log;
}

AppendResult AppendOk(EventLog& log, const std::string& stream, std::vector<std::string> events,
                      uint64_t expected = store::kAnyVersion) {
  AppendResult r;
  Status s = log.Append(stream, expected, std::move(events), &r);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(empty_log_has_nothing) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  BOOST_TEST(log->LastSeq() == 0u);
  BOOST_TEST(log->Read(1).status().IsNotFound());
  BOOST_TEST(log->Read(0).status().IsNotFound());
  auto it = log->Scan(1);
  BOOST_TEST(!it->Valid());
  BOOST_TEST(it->status().ok());
  uint64_t checked = 99;
  BOOST_TEST(log->Verify(1, UINT64_MAX, &checked).ok());
  BOOST_TEST(checked == 0u);
  BOOST_TEST(log->StreamVersion("component/none").value() == 0u);
  std::vector<store::StoredEvent> events;
  BOOST_TEST(log->ReadStream("component/none", 1, 10, &events).ok());
  BOOST_TEST(events.empty());
}

BOOST_AUTO_TEST_CASE(append_assigns_gapless_seqs_and_versions_and_reads_back) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  auto a = AppendOk(*log, "component/a", MakeEvents("component/a", 3), store::kNoStream);
  auto b = AppendOk(*log, "component/b", MakeEvents("component/b", 2), store::kNoStream);
  auto a2 = AppendOk(*log, "component/a", MakeEvents("component/a", 1), 3);
  BOOST_TEST((a.seqs == std::vector<uint64_t>{1, 2, 3}));
  BOOST_TEST((b.seqs == std::vector<uint64_t>{4, 5}));
  BOOST_TEST((a2.seqs == std::vector<uint64_t>{6}));
  BOOST_TEST(a.stream_version == 3u);
  BOOST_TEST(a2.stream_version == 4u);
  BOOST_TEST(log->LastSeq() == 6u);
  BOOST_REQUIRE(a2.events.size() == 1u);

  auto ev = log->Read(6);
  BOOST_REQUIRE(ev.ok());
  BOOST_TEST(ev->envelope()->seq() == 6u);
  BOOST_TEST(ev->envelope()->stream()->str() == "component/a");
  BOOST_TEST(ev->envelope()->stream_version() == 4u);
  BOOST_TEST(ev->bytes == a2.events[0]);  // handed back exactly as stored

  // Scan a middle range.
  std::vector<uint64_t> seen;
  for (auto it = log->Scan(2, 5); it->Valid(); it->Next()) seen.push_back(it->seq());
  BOOST_TEST((seen == std::vector<uint64_t>{2, 3, 4, 5}));

  // Stream index, from a version.
  std::vector<store::StoredEvent> stream;
  BOOST_REQUIRE(log->ReadStream("component/a", 2, 100, &stream).ok());
  BOOST_REQUIRE(stream.size() == 3u);
  BOOST_TEST(stream[0].seq == 2u);
  BOOST_TEST(stream[2].seq == 6u);
  BOOST_TEST(log->StreamVersion("component/b").value() == 2u);
  // A stream whose name is a prefix of another is its own stream.
  BOOST_TEST(log->StreamVersion("component/").value() == 0u);
  BOOST_TEST(log->Verify(1, UINT64_MAX).ok());
}

BOOST_AUTO_TEST_CASE(hash_chain_links_each_event_to_the_previous_one) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  AppendOk(*log, "s/1", MakeEvents("s/1", 5));
  auto e1 = log->Read(1).value();
  auto e2 = log->Read(2).value();
  const auto* h1 = e1.envelope()->hash();
  const auto* p2 = e2.envelope()->prev_hash();
  BOOST_TEST(std::equal(h1->bytes()->begin(), h1->bytes()->end(), p2->bytes()->begin()));
  const auto* p1 = e1.envelope()->prev_hash();
  BOOST_TEST(std::all_of(p1->bytes()->begin(), p1->bytes()->end(), [](uint8_t b) { return b == 0; }));
  BOOST_TEST(log->Verify(3, 5).ok());
}

BOOST_AUTO_TEST_CASE(expected_version_conflict_writes_nothing) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  AppendOk(*log, "component/db", MakeEvents("component/db", 2));
  AppendResult r;
  Status s = log->Append("component/db", 1, MakeEvents("component/db", 3), &r);
  BOOST_TEST(s.IsConflict());
  BOOST_TEST(s.message().find("component/db") != std::string::npos);
  BOOST_TEST(s.message().find("expected version 1") != std::string::npos);
  BOOST_TEST(s.message().find("actual version 2") != std::string::npos);
  BOOST_TEST(r.seqs.empty());
  s = log->Append("component/db", store::kNoStream, MakeEvents("component/db", 1), &r);
  BOOST_TEST(s.IsConflict());
  BOOST_TEST(log->LastSeq() == 2u);
  BOOST_TEST(log->StreamVersion("component/db").value() == 2u);
  BOOST_TEST(log->Read(3).status().IsNotFound());
  // The chain goes on unbroken after a refused append.
  AppendOk(*log, "component/db", MakeEvents("component/db", 1), 2);
  BOOST_TEST(log->Verify(1, UINT64_MAX).ok());
}

BOOST_AUTO_TEST_CASE(retry_of_a_stored_batch_is_idempotent) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  AppendOk(*log, "other", MakeEvents("other", 2));
  const auto batch = MakeEvents("component/db", 3);
  auto first = AppendOk(*log, "component/db", batch, store::kNoStream);
  AppendOk(*log, "component/db", MakeEvents("component/db", 1));
  // The retry carries the stale expected version; it still gets the originals.
  auto retry = AppendOk(*log, "component/db", batch, store::kNoStream);
  BOOST_TEST(retry.duplicate);
  BOOST_TEST(retry.seqs == first.seqs);
  BOOST_TEST(retry.stream_version == 3u);
  BOOST_TEST(log->LastSeq() == 6u);

  // Some ids stored, some not: refused, nothing written.
  auto mixed = batch;
  mixed.push_back(MakeEvent("component/db"));
  AppendResult r;
  Status s = log->Append("component/db", store::kAnyVersion, mixed, &r);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(log->LastSeq() == 6u);
  // Same ids under another stream: refused.
  std::vector<std::string> moved;
  for (const auto& bytes : batch) {
    const fb::Id128 id = *VerifyEnvelope(bytes)->event_id();
    moved.push_back(MakeEvent("component/other", 0, &id));
  }
  s = log->Append("component/other", store::kAnyVersion, moved, &r);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(log->LastSeq() == 6u);
}

BOOST_AUTO_TEST_CASE(bad_batches_are_refused_and_write_nothing) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  AppendResult r;
  BOOST_TEST(log->Append("s", store::kAnyVersion, {}, &r).IsInvalidArgument());
  BOOST_TEST(log->Append("s", store::kAnyVersion, {"not a flatbuffer"}, &r).IsInvalidArgument());
  BOOST_TEST(log->Append("s", store::kAnyVersion, {MakeEvent("t")}, &r).IsInvalidArgument());
  BOOST_TEST(log->Append("", store::kAnyVersion, {MakeEvent("")}, &r).IsInvalidArgument());
  auto truncated = MakeEvent("s");
  truncated.resize(truncated.size() / 2);
  BOOST_TEST(log->Append("s", store::kAnyVersion, {truncated}, &r).IsInvalidArgument());
  // A good event beside a bad one: the whole batch is refused.
  BOOST_TEST(log->Append("s", store::kAnyVersion, {MakeEvent("s"), "junk"}, &r).IsInvalidArgument());
  BOOST_TEST(log->LastSeq() == 0u);
  BOOST_TEST(log->StreamVersion("s").value() == 0u);
}

BOOST_AUTO_TEST_CASE(reopen_keeps_everything) {
  TempDir dir;
  std::vector<std::string> stored;
  {
    auto log = OpenOrDie(dir.path());
    for (int i = 0; i < 10; ++i) {
      auto r = AppendOk(*log, "s/" + std::to_string(i % 3), MakeEvents("s/" + std::to_string(i % 3), 4));
      for (auto& e : r.events) stored.push_back(e);
    }
    BOOST_REQUIRE(log->PutSnapshot("registry", 20, "state-at-20").ok());
    BOOST_REQUIRE(log->PutCheckpoint("registry", 40).ok());
  }
  auto log = OpenOrDie(dir.path());
  BOOST_TEST(log->LastSeq() == 40u);
  for (uint64_t seq = 1; seq <= 40; ++seq) BOOST_TEST(log->Read(seq)->bytes == stored[seq - 1]);
  BOOST_TEST(log->StreamVersion("s/0").value() == 16u);
  BOOST_TEST(log->GetSnapshot("registry", 40)->blob == "state-at-20");
  BOOST_TEST(log->GetCheckpoint("registry").value() == 40u);
  // Appends continue the chain and the stream versions after reopen.
  auto r = AppendOk(*log, "s/0", MakeEvents("s/0", 1), 16);
  BOOST_TEST(r.seqs.front() == 41u);
  BOOST_TEST(log->Verify(1, UINT64_MAX).ok());
}

BOOST_AUTO_TEST_CASE(scan_across_100000_events) {
  TempDir dir;
  LogOptions o;
  o.durability = store::Durability::kNoSync;
  auto log = OpenOrDie(dir.path(), o);
  for (int b = 0; b < 400; ++b) {
    const std::string stream = "upgrade/" + std::to_string(b % 50);
    AppendOk(*log, stream, MakeEvents(stream, 250, 300));
  }
  BOOST_REQUIRE(log->LastSeq() == 100000u);
  uint64_t expected = 1, count = 0;
  for (auto it = log->Scan(1); it->Valid(); it->Next(), ++expected, ++count) {
    if (it->seq() != expected || it->envelope()->seq() != expected) {
      BOOST_FAIL("scan out of order at " << expected);
    }
  }
  BOOST_TEST(count == 100000u);
  uint64_t checked = 0;
  BOOST_TEST(log->Verify(1, UINT64_MAX, &checked).ok());
  BOOST_TEST(checked == 100000u);
  std::vector<store::StoredEvent> stream;
  BOOST_REQUIRE(log->ReadStream("upgrade/7", 1, SIZE_MAX, &stream).ok());
  BOOST_TEST(stream.size() == 2000u);
}

BOOST_AUTO_TEST_CASE(concurrent_appenders_share_group_commits_and_keep_the_chain) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  constexpr int kThreads = 8, kBatches = 50;
  std::vector<std::vector<uint64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string stream = "upgrade/" + std::to_string(t);
      for (int b = 0; b < kBatches; ++b) {
        AppendResult r;
        // Every append names the version it expects: each stream has one writer.
        Status s = log->Append(stream, static_cast<uint64_t>(b) * 2, MakeEvents(stream, 2), &r);
        if (s.ok()) seqs[t].insert(seqs[t].end(), r.seqs.begin(), r.seqs.end());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (const auto& v : seqs) {
    BOOST_TEST(v.size() == static_cast<size_t>(kBatches * 2));
    all.insert(v.begin(), v.end());
  }
  BOOST_TEST(all.size() == static_cast<size_t>(kThreads * kBatches * 2));
  BOOST_TEST(*all.begin() == 1u);
  BOOST_TEST(*all.rbegin() == static_cast<uint64_t>(kThreads * kBatches * 2));
  BOOST_TEST(log->Verify(1, UINT64_MAX).ok());
  for (int t = 0; t < kThreads; ++t) {
    BOOST_TEST(log->StreamVersion("upgrade/" + std::to_string(t)).value() == static_cast<uint64_t>(kBatches * 2));
  }
}

BOOST_AUTO_TEST_CASE(concurrent_retries_of_one_batch_store_it_once) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  const auto batch = MakeEvents("component/x", 3);
  constexpr int kThreads = 6;
  std::vector<AppendResult> results(kThreads);
  std::vector<Status> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { statuses[t] = log->Append("component/x", store::kAnyVersion, batch, &results[t]); });
  }
  for (auto& th : threads) th.join();
  int originals = 0;
  for (int t = 0; t < kThreads; ++t) {
    BOOST_TEST(statuses[t].ok());
    BOOST_TEST((results[t].seqs == std::vector<uint64_t>{1, 2, 3}));
    BOOST_TEST(results[t].stream_version == 3u);
    originals += results[t].duplicate ? 0 : 1;
  }
  BOOST_TEST(originals == 1);
  BOOST_TEST(log->LastSeq() == 3u);
}

BOOST_AUTO_TEST_CASE(second_writer_is_refused_readers_are_not) {
  TempDir dir;
  auto writer = OpenOrDie(dir.path());
  AppendOk(*writer, "s", MakeEvents("s", 3));
  std::unique_ptr<EventLog> second;
  Status s = EventLog::Open(dir.path(), LogOptions{}, &second);
  BOOST_TEST(s.IsBusy());
  BOOST_TEST(s.message().find(dir.path()) != std::string::npos);

  LogOptions ro;
  ro.mode = OpenMode::kReadOnly;
  auto reader = OpenOrDie(dir.path(), ro);
  BOOST_TEST(reader->LastSeq() == 3u);
  BOOST_TEST(reader->Verify(1, UINT64_MAX).ok());
  AppendResult r;
  BOOST_TEST(reader->Append("s", store::kAnyVersion, MakeEvents("s", 1), &r).IsNotSupported());
  BOOST_TEST(reader->PutSnapshot("p", 1, "x").IsNotSupported());

  LogOptions sec;
  sec.mode = OpenMode::kSecondary;
  auto follower = OpenOrDie(dir.path(), sec);
  BOOST_TEST(follower->LastSeq() == 3u);
  AppendOk(*writer, "s", MakeEvents("s", 2));
  BOOST_REQUIRE(follower->CatchUp().ok());
  BOOST_TEST(follower->LastSeq() == 5u);
  BOOST_TEST(follower->Read(5).ok());
  BOOST_TEST(follower->Verify(1, UINT64_MAX).ok());
}

BOOST_AUTO_TEST_CASE(readers_need_an_existing_log) {
  TempDir dir;
  LogOptions ro;
  ro.mode = OpenMode::kReadOnly;
  std::unique_ptr<EventLog> log;
  BOOST_TEST(EventLog::Open(dir.sub("missing"), ro, &log).IsNotFound());
  LogOptions no_create;
  no_create.create_if_missing = false;
  BOOST_TEST(EventLog::Open(dir.sub("missing"), no_create, &log).IsNotFound());
}

BOOST_AUTO_TEST_CASE(snapshots_are_found_at_or_below_a_seq) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  BOOST_TEST(log->GetSnapshot("registry", 100).status().IsNotFound());
  BOOST_TEST(log->GetCheckpoint("registry").status().IsNotFound());
  BOOST_REQUIRE(log->PutSnapshot("registry", 10, "r10").ok());
  BOOST_REQUIRE(log->PutSnapshot("registry", 20, "r20").ok());
  BOOST_REQUIRE(log->PutSnapshot("registryX", 15, "x15").ok());
  BOOST_REQUIRE(log->PutSnapshot("stats", 5, "s5").ok());
  BOOST_TEST(log->GetSnapshot("registry", 9).status().IsNotFound());
  BOOST_TEST(log->GetSnapshot("registry", 10)->blob == "r10");
  BOOST_TEST(log->GetSnapshot("registry", 19)->blob == "r10");
  BOOST_TEST(log->GetSnapshot("registry", 19)->seq == 10u);
  BOOST_TEST(log->GetSnapshot("registry", 1000)->blob == "r20");
  BOOST_TEST(log->GetSnapshot("stats", 1000)->blob == "s5");
  BOOST_REQUIRE(log->PutCheckpoint("registry", 7).ok());
  BOOST_REQUIRE(log->PutCheckpoint("registry", 9).ok());
  BOOST_TEST(log->GetCheckpoint("registry").value() == 9u);
  BOOST_TEST(log->PutSnapshot("", 1, "x").IsInvalidArgument());
}

BOOST_AUTO_TEST_CASE(stats_count_events_and_bytes) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  AppendOk(*log, "s", MakeEvents("s", 7));
  auto st = log->Stats();
  BOOST_REQUIRE(st.ok());
  BOOST_TEST(st->event_count == 7u);
  BOOST_TEST(st->last_seq == 7u);
  BOOST_TEST(st->bytes_on_disk > 0u);
}

BOOST_AUTO_TEST_CASE(append_many_writes_each_batch_on_its_own) {
  // Given a log where stream b already has one event
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  AppendOk(*log, "component/b", MakeEvents("component/b", 1));

  // When three batches go in together, the second with a stale expectation
  std::vector<store::BatchAppend> batches(3);
  batches[0].stream = "component/a";
  batches[0].expected_version = store::kNoStream;
  batches[0].events = MakeEvents("component/a", 2);
  batches[1].stream = "component/b";
  batches[1].expected_version = store::kNoStream;
  batches[1].events = MakeEvents("component/b", 1);
  batches[2].stream = "component/c";
  batches[2].events = MakeEvents("component/c", 3);
  Status s = log->AppendMany(&batches);

  // Then the first and third are stored gaplessly in order, the second not
  BOOST_TEST(s.IsConflict());
  BOOST_TEST(batches[0].status.ok());
  BOOST_TEST(batches[1].status.IsConflict());
  BOOST_TEST(batches[1].status.message().find("component/b") != std::string::npos);
  BOOST_TEST(batches[2].status.ok());
  BOOST_TEST((batches[0].result.seqs == std::vector<uint64_t>{2, 3}));
  BOOST_TEST(batches[1].result.seqs.empty());
  BOOST_TEST((batches[2].result.seqs == std::vector<uint64_t>{4, 5, 6}));
  BOOST_TEST(batches[2].result.events.size() == 3u);
  BOOST_TEST(log->LastSeq() == 6u);
  BOOST_TEST(log->StreamVersion("component/b").value() == 1u);
  BOOST_TEST(log->Verify(1, UINT64_MAX).ok());
}

BOOST_AUTO_TEST_CASE(append_many_from_threads_keeps_every_batch) {
  TempDir dir;
  auto log = OpenOrDie(dir.path());
  constexpr int kThreads = 4, kRounds = 50, kPerRound = 5;
  std::atomic<int> failures{0};  // Boost.Test assertions are not thread-safe
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        std::vector<store::BatchAppend> batches(kPerRound);
        for (int b = 0; b < kPerRound; ++b) {
          batches[b].stream = "s/" + std::to_string(t) + "/" + std::to_string(b);
          batches[b].events = MakeEvents(batches[b].stream, 2);
        }
        if (!log->AppendMany(&batches).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(log->LastSeq() == uint64_t{kThreads * kRounds * kPerRound * 2});
  BOOST_TEST(log->StreamVersion("s/3/4").value() == uint64_t{kRounds * 2});
  BOOST_TEST(log->Verify(1, UINT64_MAX).ok());
}
