// Component specs as JSON (tools/upgradectl/component_json): strict keys
// with their paths, enum values in any case, line:column for syntax errors,
// description and metadata of any JSON type.
#define BOOST_TEST_MODULE component_spec
#include <boost/test/unit_test.hpp>

#include "component_json.h"
#include "json_input.h"

using namespace noodle;
using nlohmann::json;

namespace {

// The message ComponentFromJson gives for text ("" when it is accepted).
std::string Refusal(const std::string& text, proj::Component* c = nullptr) {
  json j;
  if (Status s = tools::ParseJsonText(text, "spec.json", &j); !s.ok()) return s.message();
  proj::Component local;
  Status s = tools::ComponentFromJson(j, c != nullptr ? c : &local);
  BOOST_TEST((s.ok() || s.code() == Status::Code::kInvalidArgument));
  return s.ok() ? "" : s.message();
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(an_unknown_key_is_refused_with_its_path_and_the_nearest_key) {
  const std::string m = Refusal(R"({"name":"a","version":"1.0.0","dependencies":[{"name":"b","range":"^1"},{"name":"c","rnage":"^2"}]})");
  BOOST_TEST(m == "$.dependencies[1].rnage: unknown key (did you mean 'range'?)");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1.0.0","dependecies":[]})") ==
             "$.dependecies: unknown key (did you mean 'dependencies'?)");
  BOOST_TEST(Has(Refusal(R"({"name":"a","version":"1.0.0","zzzzzzzz":1})"), "$.zzzzzzzz: unknown key (valid keys: $schema, name,"));
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","hooks":{"swap":{"argv":["x"],"timeout":5}}})") ==
             "$.hooks.swap.timeout: unknown key (did you mean 'timeout_ms'?)");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","hooks":{"swapp":"x"}})") == "$.hooks.swapp: unknown key (did you mean 'swap'?)");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","artifact":{"sha":"x"}})") == "$.artifact.sha: unknown key (did you mean 'sha256'?)");
}

BOOST_AUTO_TEST_CASE(a_wrong_type_names_the_path_and_the_expected_type) {
  BOOST_TEST(Refusal(R"({"name":"a","version":1})") == "$.version: expected a string, got number");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","critical":"yes"})") == "$.critical: expected true or false, got string");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","instances":["i",2]})") == "$.instances[1]: expected a string, got number");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","hooks":{"swap":{"argv":["x"],"timeout_ms":-1}}})") ==
             "$.hooks.swap.timeout_ms: expected a whole number from 0 to 4294967295, got number");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","hooks":{"swap":{"argv":[]}}})") == "$.hooks.swap.argv: expected at least one string");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","metadata":[1]})") == "$.metadata: expected an object, got array");
  BOOST_TEST(Refusal(R"({"version":"1"})") == "$: 'name' is required");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","dependencies":[{"name":"b"}]})") == "$.dependencies[0]: 'range' is required");
  BOOST_TEST(Refusal(R"([1])") == "$: expected a component spec (a JSON object), got array");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","artifact":{"sha256":"xyz"}})") == "$.artifact.sha256: expected 64 hex digits");
}

BOOST_AUTO_TEST_CASE(enum_values_match_in_any_case_and_a_wrong_one_lists_the_valid_ones) {
  proj::Component c;
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","type":"service","executor":"PLUGIN"})", &c) == "");
  BOOST_TEST((c.type == fb::ComponentType::Service));
  BOOST_TEST((c.executor == fb::ExecutorKind::Plugin));
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","type":"daemon"})") ==
             "$.type: unknown value 'daemon' (valid: Runtime, Compiler, AiAgent, Deployment, Library, Service, Other)");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","executor":"shell"})") == "$.executor: unknown value 'shell' (valid: Hook, Plugin, Agent)");
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","type":"Service","component_type":"Runtime"})") ==
             "$.component_type: give 'type' or 'component_type', not both");
}

BOOST_AUTO_TEST_CASE(a_syntax_error_gives_line_and_column) {
  // The place is the end of the unexpected token ("1"), as the parser read it.
  const std::string m = Refusal("{\n  \"name\": \"a\",\n  \"version\" \"1\"\n}");
  BOOST_TEST(Has(m, "spec.json:3:15: syntax error"), m);
  BOOST_TEST(!Has(m, "json.exception"), m);
  BOOST_TEST(Has(Refusal("{\"name\": \"a\",\n"), "spec.json:2:1: syntax error"));
  BOOST_TEST(Has(Refusal("{\"name\": tru}"), "spec.json:1:"));
}

BOOST_AUTO_TEST_CASE(the_seed_spec_with_component_type_description_and_nested_metadata_is_accepted) {
  proj::Component c;
  BOOST_TEST(Refusal(R"({"name":"py","version":"3.11.4","component_type":"runtime","description":"The interpreter",
                         "metadata":{"owner":"platform","limits":{"memory_mb":2048,"cpus":1.5},"workers":8,"gil":true,"ports":[1,2]}})",
                     &c) == "");
  BOOST_TEST((c.type == fb::ComponentType::Runtime));
  BOOST_TEST(c.metadata.at("description") == "The interpreter");
  BOOST_TEST(c.metadata.at("owner") == "platform");
  BOOST_TEST(c.metadata.at("limits") == R"({"cpus":1.5,"memory_mb":2048})");
  BOOST_TEST(c.metadata.at("workers") == "8");
  BOOST_TEST(c.metadata.at("gil") == "true");
  BOOST_TEST(c.metadata.at("ports") == "[1,2]");
  BOOST_TEST(Has(Refusal(R"({"name":"a","version":"1","description":"x","metadata":{"description":"y"}})"),
                 "$.description: also given as $.metadata.description"));
}

BOOST_AUTO_TEST_CASE(hooks_as_argv_or_shell_lines) {
  proj::Component c;
  BOOST_TEST(Refusal(R"({"name":"a","version":"1","hooks":{"swap":{"argv":["/x","y"],"timeout_ms":5.0},"health":"true"}})", &c) == "");
  BOOST_TEST(c.hooks.at("swap").argv.size() == 2u);
  BOOST_TEST(c.hooks.at("swap").timeout_ms == 5u);
  BOOST_TEST(c.hooks.at("health").shell);
}

BOOST_AUTO_TEST_CASE(the_nearest_key_is_suggested_only_when_near) {
  BOOST_TEST(tools::SuggestKey("log_levle", {"log_level", "log_format"}) == "did you mean 'log_level'?");
  BOOST_TEST(tools::SuggestKey("zzz", {"data", "sync"}) == "valid keys: data, sync");
  BOOST_TEST(tools::SuggestKey("rnage", {"name", "range"}) == "did you mean 'range'?");  // a swapped pair is one slip
  BOOST_TEST(tools::SuggestKey("timeout", {"argv", "timeout_ms"}) == "did you mean 'timeout_ms'?");
}
