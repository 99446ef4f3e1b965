// Signed chain heads (store/signed_head.h) with real files: the key files
// and their modes, signatures that verify, and every way a head is refused.
#define BOOST_TEST_MODULE signed_head
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <filesystem>

#include "noodle/fb/bus_generated.h"
#include "noodle/store/event_log.h"
#include "noodle/store/signed_head.h"
#include "support/test_support.h"

using namespace noodle;

namespace {

unsigned Mode(const std::string& path) {
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path + " is missing");
  return st.st_mode & 0777;
}

store::HeadKey NewKey(const std::string& dir) {
  auto k = store::HeadKey::LoadOrCreate(dir);
  BOOST_REQUIRE_MESSAGE(k.ok(), k.status().ToString());
  return std::move(k.value());
}

store::HeadHash SomeHash(uint8_t seed) {
  store::HeadHash h{};
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(seed + i);
  return h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(key_files_are_created_private_and_loaded_again) {
  test::TempDir dir;
  const auto key = NewKey(dir.path());
  BOOST_TEST(Mode(dir.sub("head.key")) == 0600u);
  BOOST_TEST(Mode(dir.sub("head.pub")) == 0644u);
  auto pub = store::LoadPublicKey(dir.sub("head.pub"));
  BOOST_REQUIRE(pub.ok());
  BOOST_TEST((pub.value() == key.public_key()));
  // A second start loads the same key instead of making a new one.
  const auto again = NewKey(dir.path());
  BOOST_TEST((again.public_key() == key.public_key()));
  BOOST_TEST(again.key_id() == key.key_id());
  BOOST_TEST(key.key_id().size() == 16u);
}

BOOST_AUTO_TEST_CASE(a_key_others_can_read_is_refused) {
  test::TempDir dir;
  NewKey(dir.path());
  ::chmod(dir.sub("head.key").c_str(), 0644);
  auto k = store::HeadKey::LoadOrCreate(dir.path());
  BOOST_TEST(!k.ok());
  BOOST_TEST(k.status().IsInvalidArgument());
  BOOST_TEST(k.status().message().find("chmod 600") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_signed_head_verifies_and_carries_what_was_signed) {
  test::TempDir dir;
  const auto key = NewKey(dir.path());
  const std::string bytes = key.Sign(42, SomeHash(7), 1'800'000'000'000'000'000);
  store::SignedHeadInfo info;
  const auto pk = key.public_key();
  BOOST_REQUIRE(store::VerifySignedHead(bytes, &pk, &info).ok());
  BOOST_TEST(info.seq == 42u);
  BOOST_TEST((info.hash == SomeHash(7)));
  BOOST_TEST(info.time_ns == 1'800'000'000'000'000'000);
  BOOST_TEST(info.key_id == key.key_id());
  BOOST_TEST(store::VerifySignedHead(bytes, nullptr, &info).ok());
}

BOOST_AUTO_TEST_CASE(a_bad_signature_is_refused) {
  test::TempDir dir;
  const auto key = NewKey(dir.path());
  std::string bytes = key.Sign(42, SomeHash(7), 1);
  auto* sig = flatbuffers::GetMutableRoot<fb::SignedHead>(bytes.data())->mutable_signature();
  sig->Mutate(10, static_cast<uint8_t>(sig->Get(10) ^ 0x5a));
  store::SignedHeadInfo info;
  const Status s = store::VerifySignedHead(bytes, nullptr, &info);
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.message().find("signature does not verify") != std::string::npos);
  BOOST_TEST(info.seq == 0u);  // untouched
}

BOOST_AUTO_TEST_CASE(a_head_whose_seq_or_hash_was_changed_is_refused) {
  test::TempDir dir;
  const auto key = NewKey(dir.path());
  std::string moved = key.Sign(42, SomeHash(7), 1);
  flatbuffers::GetMutableRoot<fb::SignedHead>(moved.data())->mutate_seq(41);
  store::SignedHeadInfo info;
  BOOST_TEST(store::VerifySignedHead(moved, nullptr, &info).IsCorruption());

  std::string rehashed = key.Sign(42, SomeHash(7), 1);
  flatbuffers::GetMutableRoot<fb::SignedHead>(rehashed.data())->mutable_hash()->mutable_bytes()->Mutate(0, 0xee);
  BOOST_TEST(store::VerifySignedHead(rehashed, nullptr, &info).IsCorruption());
}

BOOST_AUTO_TEST_CASE(a_head_signed_by_another_key_is_refused_when_a_key_is_expected) {
  test::TempDir a, b;
  const auto ours = NewKey(a.path());
  const auto theirs = NewKey(b.path());
  const std::string bytes = theirs.Sign(3, SomeHash(1), 1);
  store::SignedHeadInfo info;
  BOOST_TEST(store::VerifySignedHead(bytes, nullptr, &info).ok());  // a valid signature...
  const auto pk = ours.public_key();
  const Status s = store::VerifySignedHead(bytes, &pk, &info);  // ...by the wrong key
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.message().find("not by the expected key " + ours.key_id()) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(garbage_is_refused) {
  store::SignedHeadInfo info;
  BOOST_TEST(store::VerifySignedHead("", nullptr, &info).IsCorruption());
  BOOST_TEST(store::VerifySignedHead(std::string(300, '\x7f'), nullptr, &info).IsCorruption());
}

BOOST_AUTO_TEST_CASE(head_files_are_written_whole_with_the_mode_asked_for) {
  test::TempDir dir;
  const auto key = NewKey(dir.path());
  const std::string path = dir.sub("head.signed");
  const std::string first = key.Sign(1, SomeHash(1), 1), second = key.Sign(2, SomeHash(2), 2);
  BOOST_REQUIRE(store::WriteFileAtomic(path, first, 0600).ok());
  BOOST_REQUIRE(store::WriteFileAtomic(path, second, 0600).ok());
  BOOST_TEST(Mode(path) == 0600u);
  auto read = store::ReadWholeFile(path);
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read.value() == second);
  BOOST_TEST(!std::filesystem::exists(path + ".tmp"));
  BOOST_TEST(store::ReadWholeFile(dir.sub("nothing")).status().IsNotFound());
}

BOOST_AUTO_TEST_CASE(a_log_is_checked_against_a_head) {
  test::TempDir dir;
  const auto key = NewKey(dir.path());
  std::unique_ptr<store::EventLog> log;
  BOOST_REQUIRE(store::EventLog::Open(dir.sub("log"), {}, &log).ok());
  store::AppendResult r;
  BOOST_REQUIRE(log->Append("component/x", store::kAnyVersion, test::MakeEvents("component/x", 5), &r).ok());
  auto ev = log->Read(5);
  BOOST_REQUIRE(ev.ok());
  store::HeadHash h5{};
  std::copy(ev->envelope()->hash()->bytes()->begin(), ev->envelope()->hash()->bytes()->end(), h5.begin());

  store::SignedHeadInfo head;
  BOOST_REQUIRE(store::VerifySignedHead(key.Sign(5, h5, 1), nullptr, &head).ok());
  BOOST_TEST(store::CheckLogAgainstHead(*log, head).ok());

  store::SignedHeadInfo ahead;  // a head beyond the log: events were deleted
  BOOST_REQUIRE(store::VerifySignedHead(key.Sign(9, h5, 1), nullptr, &ahead).ok());
  const Status t = store::CheckLogAgainstHead(*log, ahead);
  BOOST_TEST(t.IsCorruption());
  BOOST_TEST(t.message() == "log ends at seq 5, below the signed head at seq 9 (events deleted)");
  BOOST_TEST(t.seq().value_or(0) == 6u);

  store::SignedHeadInfo other;  // event 5 with another hash: rewritten
  BOOST_REQUIRE(store::VerifySignedHead(key.Sign(5, SomeHash(3), 1), nullptr, &other).ok());
  const Status w = store::CheckLogAgainstHead(*log, other);
  BOOST_TEST(w.IsCorruption());
  BOOST_TEST(w.message() == "event 5's hash differs from the signed head: history before it was rewritten");
  BOOST_TEST(w.seq().value_or(0) == 5u);
}
