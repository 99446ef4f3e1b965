// Stored events are plain FlatBuffers: a value dumped from RocksDB decodes
// with stock flatc and the schema files, no code of ours involved.
#define BOOST_TEST_MODULE schema_flatc
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "noodle/store/event_log.h"
#include "support/raw_rocks.h"
#include "support/test_support.h"

using namespace noodle;

BOOST_AUTO_TEST_CASE(stored_value_decodes_with_stock_flatc) {
  test::TempDir dir;
  const std::string log_dir = dir.sub("log");
  {
    std::unique_ptr<store::EventLog> log;
    BOOST_REQUIRE(store::EventLog::Open(log_dir, {}, &log).ok());
    flatbuffers::FlatBufferBuilder fbb;
    auto spec = fb::CreateComponentSpecDirect(fbb, "db", "2.4.1-rc.1", fb::ComponentType::Service,
                                              /*hot_swappable=*/true, /*critical=*/true);
    auto payload = fb::CreateComponentRegistered(fbb, spec);
    EventMeta meta;
    meta.event_id = fb::Id128(0x0123456789abcdefULL, 0xfedcba9876543210ULL);
    meta.stream = "component/db";
    meta.time_ns = 1234567890;
    meta.actor = "alice";
    std::vector<std::string> batch{FinishEvent(fbb, meta, fb::Event::ComponentRegistered, payload.Union())};
    store::AppendResult r;
    BOOST_REQUIRE(log->Append("component/db", store::kNoStream, std::move(batch), &r).ok());
  }
  const std::string value = test::RawLog(log_dir).Get(1);
  const std::string bin = dir.sub("event.ncev");
  std::ofstream(bin, std::ios::binary) << value;

  std::string out, err;
  const int rc = test::RunProgram({FLATC_PATH, "--json", "--strict-json", "-I", SCHEMA_DIR, "-o", dir.path(),
                                   std::string(SCHEMA_DIR) + "/events.fbs", "--", bin},
                                  "", &out, &err);
  BOOST_REQUIRE_MESSAGE(rc == 0, "flatc failed: " << err);
  std::ifstream json_file(dir.sub("event.json"));
  std::stringstream text;
  text << json_file.rdbuf();
  const auto j = nlohmann::json::parse(text.str());
  BOOST_TEST(j["seq"] == 1);
  BOOST_TEST(j["stream"] == "component/db");
  BOOST_TEST(j["stream_version"] == 1);
  BOOST_TEST(j["actor"] == "alice");
  BOOST_TEST(j["event_id"]["hi"] == 0x0123456789abcdefULL);
  BOOST_TEST(j["event_type"] == "ComponentRegistered");
  BOOST_TEST(j["event"]["component"]["name"] == "db");
  BOOST_TEST(j["event"]["component"]["version"] == "2.4.1-rc.1");
  BOOST_TEST(j["event"]["component"]["critical"] == true);
  BOOST_TEST(j["hash"]["bytes"].size() == 32u);
}
