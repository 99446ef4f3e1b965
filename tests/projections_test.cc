// Projection folds and their summaries, event by event.
#define BOOST_TEST_MODULE projections
#include <boost/test/unit_test.hpp>

#include "noodle/envelope.h"
#include "noodle/projections/codec.h"
#include "noodle/projections/registry.h"
#include "noodle/projections/statistics.h"

using namespace noodle;

namespace {

// An event as the log would hand it back.
struct Built {
  std::string bytes;
  const fb::EventEnvelope* env() const { return fb::GetEventEnvelope(bytes.data()); }
};

template <typename F>
Built Make(uint64_t seq, int64_t time_ns, fb::Event type, F&& payload) {
  flatbuffers::FlatBufferBuilder fbb;
  auto body = payload(fbb);
  EventMeta meta;
  meta.event_id = fb::Id128(1, seq);
  meta.stream = "s";
  meta.time_ns = time_ns;
  Built b{FinishEvent(fbb, meta, type, body)};
  fb::GetMutableEventEnvelope(b.bytes.data())->mutate_seq(seq);
  return b;
}

}  // namespace

BOOST_AUTO_TEST_CASE(duration_summary_uses_nearest_rank) {
  proj::Tally t;
  for (int i = 100; i >= 1; --i) t.durations_ns.push_back(i);
  const auto d = proj::Summarize(t);
  BOOST_TEST(d.count == 100u);
  BOOST_TEST(d.min_ns == 1);
  BOOST_TEST(d.median_ns == 50);
  BOOST_TEST(d.p95_ns == 95);
  BOOST_TEST(d.max_ns == 100);
  BOOST_TEST(proj::Summarize(proj::Tally{}).count == 0u);
}

BOOST_AUTO_TEST_CASE(statistics_count_outcomes_and_durations_per_component) {
  proj::Statistics s;
  const fb::Id128 a(7, 1), b(7, 2);
  auto requested = [](const fb::Id128& id, const char* component) {
    return [id, component](flatbuffers::FlatBufferBuilder& fbb) {
      return fb::CreateUpgradeRequestedDirect(fbb, &id, component, nullptr, "2.0.0").Union();
    };
  };
  proj::Evolve(s, *Make(1, 1000, fb::Event::UpgradeRequested, requested(a, "db")).env());
  proj::Evolve(s, *Make(2, 1000, fb::Event::UpgradeRequested, requested(b, "db")).env());
  BOOST_TEST(s.open.size() == 2u);
  proj::Evolve(s, *Make(3, 4000, fb::Event::UpgradeCompleted, [&](auto& fbb) {
                 return fb::CreateUpgradeCompletedDirect(fbb, &a, "db", "1.0.0", "2.0.0").Union();
               }).env());
  // Failed with a rollback following: counted as failed, still open
  proj::Evolve(s, *Make(4, 5000, fb::Event::UpgradeFailed, [&](auto& fbb) {
                 return fb::CreateUpgradeFailedDirect(fbb, &b, "boom", 0, true).Union();
               }).env());
  BOOST_TEST(s.open.size() == 1u);
  proj::Evolve(s, *Make(5, 9000, fb::Event::RollbackCompleted, [&](auto& fbb) {
                 return fb::CreateRollbackCompletedDirect(fbb, &b, "1.0.0").Union();
               }).env());
  BOOST_TEST(s.open.empty());
  BOOST_TEST(s.overall.outcomes.at("completed") == 1u);
  BOOST_TEST(s.overall.outcomes.at("failed") == 1u);
  BOOST_TEST(s.overall.outcomes.at("rolled_back") == 1u);
  BOOST_TEST((s.per_component.at("db").durations_ns == std::vector<int64_t>{3000, 8000}));
  proj::Statistics decoded;
  BOOST_TEST(proj::Decode(proj::Encode(s), &decoded).ok());
  BOOST_TEST((decoded == s));
}

BOOST_AUTO_TEST_CASE(registry_follows_registrations_upgrades_and_deregistrations) {
  proj::Registry r;
  auto spec = [](const char* name, const char* version, const char* dep) {
    return [=](flatbuffers::FlatBufferBuilder& fbb) {
      std::vector<flatbuffers::Offset<fb::Dependency>> deps;
      if (dep != nullptr) deps.push_back(fb::CreateDependencyDirect(fbb, dep, "^1"));
      return fb::CreateComponentRegistered(fbb, fb::CreateComponentSpecDirect(fbb, name, version, fb::ComponentType::Service,
                                                                             true, false, &deps))
          .Union();
    };
  };
  proj::Evolve(r, *Make(1, 1, fb::Event::ComponentRegistered, spec("db", "1.0.0", nullptr)).env());
  proj::Evolve(r, *Make(2, 2, fb::Event::ComponentRegistered, spec("api", "1.0.0", "db")).env());
  BOOST_TEST((r.DependentsOf("db") == std::vector<std::string>{"api"}));
  const fb::Id128 id(1, 1);
  proj::Evolve(r, *Make(3, 3, fb::Event::UpgradeCompleted, [&](auto& fbb) {
                 return fb::CreateUpgradeCompletedDirect(fbb, &id, "db", "1.0.0", "1.1.0").Union();
               }).env());
  BOOST_TEST(r.find("db")->version == "1.1.0");
  BOOST_TEST(r.components.at("db").registered_seq == 1u);
  BOOST_TEST(r.components.at("db").updated_seq == 3u);
  proj::Evolve(r, *Make(4, 4, fb::Event::ComponentDeregistered, [](auto& fbb) {
                 return fb::CreateComponentDeregisteredDirect(fbb, "api").Union();
               }).env());
  BOOST_TEST(r.find("api") == nullptr);
  BOOST_TEST(r.seq == 4u);
}
