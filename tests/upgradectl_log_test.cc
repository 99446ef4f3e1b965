// `upgradectl log`: the real binary on a real log directory.
#define BOOST_TEST_MODULE upgradectl_log
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "noodle/store/event_log.h"
#include "support/test_support.h"

using namespace noodle;
using nlohmann::json;

namespace {

int Ctl(std::vector<std::string> args, const std::string& input = "", std::string* out = nullptr,
        std::string* err = nullptr) {
  args.insert(args.begin(), UPGRADECTL_PATH);
  std::string o, e;
  const int rc = test::RunProgram(args, input, &o, &e);
  if (out) *out = o;
  if (err) *err = e;
  return rc;
}

// Every stored event's bytes, in order: "unchanged" means equal to this.
std::vector<std::string> Contents(const std::string& dir) {
  store::LogOptions o;
  o.mode = store::OpenMode::kReadOnly;
  std::unique_ptr<store::EventLog> log;
  std::vector<std::string> all;
  if (!store::EventLog::Open(dir + "/log", o, &log).ok()) return all;  // the data directory's log
  for (auto it = log->Scan(1); it->Valid(); it->Next()) all.emplace_back(it->bytes());
  return all;
}

const char* kRegister = R"({"stream":"component/db","type":"ComponentRegistered","expected_version":"none",
  "data":{"component":{"name":"db","version":"1.0.0","type":"Service",
  "dependencies":[{"name":"os","range":"^2.1"}]}}})";

}  // namespace

BOOST_AUTO_TEST_CASE(append_from_json_then_show_tail_verify_stats) {
  test::TempDir dir;
  const std::string d = dir.sub("data");
  std::string out, err;
  BOOST_TEST(Ctl({"log", "append", "-d", d, "-f", "-"}, kRegister, &out, &err) == 0, err);
  // JSON Lines: one object per line.
  const std::string jsonl =
      R"({"stream":"upgrade/0123456789abcdef0123456789abcdef","type":"UpgradeRequested","actor":"ops",)"
      R"("data":{"upgrade_id":"0123456789abcdef0123456789abcdef","component":"db","target_version":"1.1.0"}})"
      "\n"
      R"({"stream":"upgrade/0123456789abcdef0123456789abcdef","type":"UpgradeValidated",)"
      R"("data":{"upgrade_id":"0123456789abcdef0123456789abcdef"}})"
      "\n";
  BOOST_TEST(Ctl({"log", "append", "-d", d, "-f", "-", "--json"}, jsonl, &out, &err) == 0, err);
  const json res = json::parse(out.substr(0, out.find('\n')));
  BOOST_TEST((res["seqs"] == json::array({2, 3})));  // one stream: one batch

  BOOST_TEST(Ctl({"log", "append", "-d", d, "--stream", "component/db", "--type", "ComponentDeregistered",
                  "--data", R"({"name":"db","reason":"retired"})", "--expected-version", "1"},
                 "", &out, &err) == 0, err);

  BOOST_TEST(Ctl({"log", "show", "-d", d, "--json"}, "", &out) == 0);
  std::vector<json> events;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) events.push_back(json::parse(line));
  BOOST_REQUIRE(events.size() == 4u);
  BOOST_TEST(events[0]["type"] == "ComponentRegistered");
  BOOST_TEST(events[0]["data"]["component"]["dependencies"][0]["range"] == "^2.1");
  BOOST_TEST(events[1]["actor"] == "ops");
  BOOST_TEST(events[1]["data"]["upgrade_id"] == "0123456789abcdef0123456789abcdef");
  BOOST_TEST(events[3]["stream_version"] == 2);
  BOOST_TEST(events[3]["prev_hash"] == events[2]["hash"]);

  BOOST_TEST(Ctl({"log", "show", "-d", d, "--stream", "component/db"}, "", &out) == 0);
  BOOST_TEST(out.find("ComponentDeregistered") != std::string::npos);
  BOOST_TEST(out.find("UpgradeRequested") == std::string::npos);
  BOOST_TEST(Ctl({"log", "show", "-d", d, "--type", "UpgradeValidated"}, "", &out) == 0);
  BOOST_TEST(std::count(out.begin(), out.end(), '\n') == 1);
  BOOST_TEST(Ctl({"log", "tail", "-d", d, "-n", "2"}, "", &out) == 0);
  BOOST_TEST(out.find("#3 ") != std::string::npos);
  BOOST_TEST(out.find("#4 ") != std::string::npos);
  BOOST_TEST(out.find("#2 ") == std::string::npos);
  BOOST_TEST(Ctl({"log", "verify", "-d", d}, "", &out) == 0);
  BOOST_TEST(Ctl({"log", "stats", "-d", d, "--json"}, "", &out) == 0);
  const json st = json::parse(out);
  BOOST_TEST(st["event_count"] == 4);
  BOOST_TEST(st["bytes_on_disk"].get<uint64_t>() > 0u);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused_clearly_and_changes_nothing) {
  test::TempDir dir;
  const std::string d = dir.sub("data");
  BOOST_REQUIRE(Ctl({"log", "append", "-d", d, "-f", "-"}, kRegister) == 0);
  const auto before = Contents(d);
  BOOST_REQUIRE(before.size() == 1u);

  struct Case {
    std::string input;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"stream":"s","type":"NoSuchEvent","data":{}})", "unknown event type 'NoSuchEvent'"},
      {R"({"stream":"component/db","type":"ComponentRegistered","data":{"component":{"name":"db","version":"1.0"}}})",
       "invalid SemVer '1.0'"},
      {R"({"stream":"component/db","type":"ComponentRegistered","data":{"component":{"name":"db","version":"01.0.0"}}})",
       "invalid SemVer '01.0.0'"},
      {R"({"stream":"u","type":"UpgradeRequested","data":{"upgrade_id":"0123456789abcdef0123456789abcdef","component":"db","target_version":"v2"}})",
       "target_version"},
      {R"({"stream":"component/db","type":"ComponentRegistered","data":{"component":{"version":"1.0.0"}}})",
       "required field is missing: name"},
      {R"({"stream":"component/db","type":"ComponentRegistered","data":{}})", "required field is missing: component"},
      {R"({"type":"ComponentDeregistered","data":{"name":"db"}})", "missing field 'stream'"},
      {R"({"stream":"component/db","data":{"name":"db"}})", "missing field 'type'"},
      {R"({"stream":"component/db","type":"ComponentDeregistered","data":{"name":"db","colour":"red"}})",
       "unknown field"},
      {R"({"stream":"component/db","type":"ComponentDeregistered","data":{"name":42}})", "ComponentDeregistered"},
      {R"({"stream":"u","type":"UpgradeValidated","data":{"upgrade_id":"xyz"}})", "32 hex digits"},
      {R"({"stream":"component/db","type":"ComponentRegistered","data":{"component":{"name":"db","version":"1.0.0","dependencies":[{"name":"os","range":">=1.0 <<2"}]}}})",
       "invalid SemVer range"},
      {"{\"stream\": \"component/db\", \"type\": ", "invalid JSON"},
      {"[1, 2", "invalid JSON"},
      {R"({"stream":"component/db","type":"ComponentDeregistered","actor":5,"data":{"name":"db"}})", "actor"},
      {R"({"stream":"component/db","type":"ComponentDeregistered","time_ns":"now","data":{"name":"db"}})", "time_ns"},
      {R"({"stream":"component/db","type":"ComponentDeregistered","expected_version":-1,"data":{"name":"db"}})",
       "expected_version"},
      {R"({"stream":"component/db","type":"ComponentDeregistered","data":[1]})", "data"},
      {R"({"stream":7,"type":"ComponentDeregistered","data":{"name":"db"}})", "stream"},
      {R"(["not an object"])", "JSON object"},
      {"", "no events"},
      // A good event followed by a bad one: nothing at all is appended.
      {std::string(R"({"stream":"component/db","type":"ComponentDeregistered","data":{"name":"db"}})") + "\n" +
           R"({"stream":"component/db","type":"Bogus"})",
       "event 2"},
  };
  for (const auto& c : cases) {
    std::string out, err;
    const int rc = Ctl({"log", "append", "-d", d, "-f", "-"}, c.input, &out, &err);
    BOOST_TEST(rc == 2, "input " << c.input << " -> rc " << rc);
    BOOST_TEST(err.find(c.message) != std::string::npos, "input " << c.input << " -> " << err);
    BOOST_TEST(Contents(d) == before);
  }
  // Flags, too.
  std::string err;
  BOOST_TEST(Ctl({"log", "append", "-d", d, "--stream", "s", "--type", "ComponentDeregistered", "--data", "{nope"},
                 "", nullptr, &err) == 2);
  BOOST_TEST(err.find("--data") != std::string::npos);
  BOOST_TEST(Ctl({"log", "append", "-d", d, "--stream", "s"}, "", nullptr, &err) == 2);
  BOOST_TEST(Ctl({"log", "bogus-command"}, "", nullptr, &err) == 2);
  BOOST_TEST(Contents(d) == before);
  // A version conflict is a refusal (exit 1), and writes nothing either.
  BOOST_TEST(Ctl({"log", "append", "-d", d, "--stream", "component/db", "--type", "ComponentDeregistered",
                  "--data", R"({"name":"db"})", "--expected-version", "7"},
                 "", nullptr, &err) == 1);
  BOOST_TEST(err.find("expected version 7, actual version 1") != std::string::npos, err);
  BOOST_TEST(Contents(d) == before);
  // Bad input never creates a log where there was none.
  BOOST_TEST(Ctl({"log", "append", "-d", dir.sub("fresh"), "-f", "-"}, "{}") == 2);
  BOOST_TEST(!std::filesystem::exists(dir.sub("fresh")));
  // Reading a log that does not exist: unreachable (3).
  BOOST_TEST(Ctl({"log", "show", "-d", dir.sub("nothing")}) == 3);
}
