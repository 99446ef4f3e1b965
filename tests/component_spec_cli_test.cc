// Component specs through upgradectl: bad specs exit 2 with the path, the
// place or the valid values before any connection; the seed-style spec is
// registered with a real daemon and shown back; the JSON Schema in docs/
// accepts and refuses exactly what the parser does.
#define BOOST_TEST_MODULE component_spec_cli
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "component_json.h"
#include "support/daemon_process.h"
#include "support/test_support.h"

using namespace noodle;
namespace fs = std::filesystem;

namespace {

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// upgradectl with args against `commands`; out gets stdout and stderr.
int Ctl(std::vector<std::string> args, std::string* out, const std::string& commands = "tcp://127.0.0.1:9") {
  std::vector<std::string> argv{UPGRADECTL_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--commands", commands, "--request-timeout", "2000ms"});
  std::string o, e;
  const int rc = test::RunProgram(argv, "", &o, &e);
  *out = o + e;
  return rc;
}

std::string Write(const test::TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir.sub(name)) << text;
  return dir.sub(name);
}

// Specs the parser refuses; the schema must refuse each too.
const std::vector<std::string> kInvalid = {
    R"({"name":"a","version":"1.0.0","dependecies":[]})",
    R"({"name":"a","version":"1.0.0","dependencies":[{"name":"b","rnage":"^1"}]})",
    R"({"name":"a","version":"1.0.0","type":"daemon"})",
    R"({"name":"a","version":"1.0.0","executor":"shell"})",
    R"({"name":"a","version":1})",
    R"({"version":"1.0.0"})",
    R"({"name":"","version":"1.0.0"})",
    R"({"name":"a","version":"1.0.0","type":"Service","component_type":"Service"})",
    R"({"name":"a","version":"1.0.0","description":"x","metadata":{"description":"y"}})",
    R"({"name":"a","version":"1.0.0","description":7})",
    R"({"name":"a","version":"1.0.0","hooks":{"swap":{"argv":[]}}})",
    R"({"name":"a","version":"1.0.0","hooks":{"swap":{"argv":["x"],"timeout_ms":-1}}})",
    R"({"name":"a","version":"1.0.0","hooks":{"swap":{"argv":["x"],"timeout_ms":1.5}}})",
    R"({"name":"a","version":"1.0.0","hooks":{"reload":"x"}})",
    R"({"name":"a","version":"1.0.0","artifact":{"sha256":"abc"}})",
    R"({"name":"a","version":"1.0.0","metadata":[]})",
    R"({"name":"a","version":"1.0.0","instances":[1]})",
};

// Specs beyond examples/ that both accept.
const std::vector<std::string> kValid = {
    R"({"name":"a","version":"1.0.0","type":"sErViCe","executor":"AGENT"})",
    R"({"name":"a","version":"1.0.0","metadata":{"n":1,"o":{"p":[true,null]}},"description":"d"})",
    R"({"name":"a","version":"1.0.0","hooks":{"swap":{"argv":["x"],"timeout_ms":5.0,"shell":false}}})",
};

}  // namespace

BOOST_AUTO_TEST_CASE(bad_specs_exit_2_with_the_place_before_any_connection) {
  test::TempDir dir;
  std::string out;
  const auto started = std::chrono::steady_clock::now();
  const std::string typo = Write(dir, "typo.json", R"({"name":"a","version":"1.0.0","dependecies":[]})");
  BOOST_TEST(Ctl({"component", "register", "-f", typo}, &out) == 2);
  BOOST_TEST(Has(out, typo + ": $.dependecies: unknown key (did you mean 'dependencies'?)"), out);
  const std::string syntax = Write(dir, "syntax.json", "{\n  \"name\": \"a\",\n  \"version\": \"1.0.0\",\n}\n");
  BOOST_TEST(Ctl({"component", "register", "-f", syntax}, &out) == 2);
  BOOST_TEST(Has(out, syntax + ":4:1: syntax error"), out);
  BOOST_TEST(!Has(out, "json.exception"), out);
  const std::string type = Write(dir, "type.json", R"({"name":"a","version":"1.0.0","type":"daemon"})");
  BOOST_TEST(Ctl({"component", "register", "-f", type}, &out) == 2);
  BOOST_TEST(Has(out, "$.type: unknown value 'daemon' (valid: Runtime, Compiler, AiAgent, Deployment, Library, Service, Other)"), out);
  BOOST_TEST(Ctl({"upgrade", "start", "a", "1.1.0", "--target", typo}, &out) == 2);
  BOOST_TEST(Has(out, "did you mean 'dependencies'?"), out);
  BOOST_TEST(Ctl({"component", "register", "-f", dir.sub("missing.json")}, &out) == 2);
  BOOST_TEST(Has(out, "cannot read"), out);
  // Nothing listens on port 9: a spec read after connecting would take the timeout.
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(2)));
}

BOOST_AUTO_TEST_CASE(the_seed_style_spec_is_registered_and_shown_back) {
  test::TempDir dir;
  test::DaemonProcess d = test::DaemonProcess::Start(UPGRADED_PATH, dir.sub("data"));
  std::string out;
  const std::string spec = std::string(SOURCE_DIR) + "/examples/components/runtime.json";
  BOOST_TEST(Ctl({"component", "register", "-f", spec}, &out, d.commands) == 0, out);
  BOOST_TEST(Ctl({"component", "show", "python-runtime", "--json"}, &out, d.commands) == 0, out);
  BOOST_TEST(Has(out, "The Python interpreter the workers run on"), out);
  BOOST_TEST(Has(out, R"(\"memory_mb\":2048)"), out);  // nested metadata, kept as JSON text
  BOOST_TEST(Has(out, "Runtime"), out);
  d.Stop(SIGTERM);
}

BOOST_AUTO_TEST_CASE(the_json_schema_accepts_and_refuses_what_the_parser_does) {
  test::TempDir dir;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(std::string(SOURCE_DIR) + "/examples/components")) files.push_back(e.path());
  const size_t examples = files.size();
  BOOST_TEST(examples >= 2u);
  for (size_t i = 0; i < kValid.size(); ++i) files.push_back(Write(dir, "valid" + std::to_string(i) + ".json", kValid[i]));
  for (size_t i = 0; i < kInvalid.size(); ++i) files.push_back(Write(dir, "invalid" + std::to_string(i) + ".json", kInvalid[i]));
  const std::string script =
      "import json, sys\n"
      "from jsonschema import Draft202012Validator as V\n"
      "schema = json.load(open(sys.argv[1]))\n"
      "V.check_schema(schema)\n"
      "for f in sys.argv[2:]: print('valid' if V(schema).is_valid(json.load(open(f))) else 'invalid')\n";
  std::vector<std::string> argv{"/usr/bin/python3", "-c", script, std::string(SOURCE_DIR) + "/docs/component-spec.schema.json"};
  argv.insert(argv.end(), files.begin(), files.end());
  std::string out, err;
  BOOST_REQUIRE_MESSAGE(test::RunProgram(argv, "", &out, &err) == 0, err);
  std::istringstream verdicts(out);
  for (size_t i = 0; i < files.size(); ++i) {
    std::string verdict;
    std::getline(verdicts, verdict);
    proj::Component c;
    const Status parsed = tools::ReadComponentSpec(files[i], &c);
    const bool should_pass = i < examples + kValid.size();
    BOOST_TEST(parsed.ok() == should_pass, files[i] << ": " << parsed.message());
    BOOST_TEST(verdict == (should_pass ? "valid" : "invalid"), files[i]);
  }
}
