// The metrics registry's text format and the log line formats, without a
// daemon (observability_test.py parses both from a real one).
#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>

#include "noodle/observe/http_server.h"
#include "noodle/observe/log_format.h"
#include "noodle/observe/metrics.h"

using namespace noodle::observe;

namespace {

// line is one whole line of text.
bool Has(const std::string& text, const std::string& line) {
  for (size_t at = text.find(line); at != std::string::npos; at = text.find(line, at + 1)) {
    const size_t end = at + line.size();
    if ((at == 0 || text[at - 1] == '\n') && end < text.size() && text[end] == '\n') return true;
  }
  return false;
}

// A JSON line's fields as LogFields renders them, in their braces.
nlohmann::json ParseObject(const std::string& fields) {
  std::string object = "{";
  object += fields;
  object += '}';
  return nlohmann::json::parse(object);
}

}  // namespace

BOOST_AUTO_TEST_CASE(counters_gauges_and_histograms_render_in_the_text_format) {
  Registry r;
  r.counter("jobs_total", "Jobs done.", {{"outcome", "ok"}}).Add(3);
  r.counter("jobs_total", "ignored", {{"outcome", "failed"}});
  r.gauge("depth", "Queue depth.").Set(2.5);
  r.gauge_fn("answer", "Read at scrape time.", [] { return 42.0; });
  Histogram& h = r.histogram("wait_seconds", "Waits.", {0.1, 1});
  h.Observe(0.1);  // le is inclusive
  h.Observe(0.5);
  h.Observe(7);
  const std::string text = r.Render();
  BOOST_TEST_MESSAGE(text);
  for (const char* line : {"# HELP jobs_total Jobs done.", "# TYPE jobs_total counter",
                           "jobs_total{outcome=\"failed\"} 0", "jobs_total{outcome=\"ok\"} 3", "depth 2.5",
                           "answer 42", "# TYPE wait_seconds histogram", "wait_seconds_bucket{le=\"0.1\"} 1",
                           "wait_seconds_bucket{le=\"1\"} 2", "wait_seconds_bucket{le=\"+Inf\"} 3",
                           "wait_seconds_sum 7.6", "wait_seconds_count 3"}) {
    BOOST_TEST(Has(text, line), line);
  }
  BOOST_TEST(text.find("ignored") == std::string::npos);  // the first help wins
}

BOOST_AUTO_TEST_CASE(label_values_and_help_are_escaped_and_a_type_clash_is_not_rendered) {
  Registry r;
  r.counter("odd_total", "Line one\nline \\two", {{"path", "a\"b\\c\nd"}}).Add();
  r.gauge("odd_total", "a gauge under a counter's name").Set(9);
  const std::string text = r.Render();
  BOOST_TEST(Has(text, "# HELP odd_total Line one\\nline \\\\two"));
  BOOST_TEST(Has(text, "odd_total{path=\"a\\\"b\\\\c\\nd\"} 1"));
  BOOST_TEST(text.find(" 9\n") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(log_levels_and_formats_are_strict_and_case_insensitive) {
  BOOST_TEST(ParseLogLevel("WARN").value() == spdlog::level::warn);
  BOOST_TEST(ParseLogLevel("off").value() == spdlog::level::off);
  BOOST_TEST(ParseLogLevel("error").value() == spdlog::level::err);
  BOOST_TEST(!ParseLogLevel("verbose"));
  BOOST_TEST(!ParseLogLevel("warning"));
  BOOST_TEST(!ParseLogLevel(""));
  BOOST_TEST((ParseLogFormat("JSON").value() == LogFormat::kJson));
  BOOST_TEST(!ParseLogFormat("xml"));
}

BOOST_AUTO_TEST_CASE(fields_render_as_logfmt_text_and_json) {
  LogFields f;
  f.Add("component", "db").Add("empty", "").Add("output", "said \"no\" = x\nnext\\").Add("exit_code", int32_t{3});
  f.Add("rollback", false).Seconds("duration", 1.5);
  BOOST_TEST(f.Render(LogFormat::kLogfmt, "upgrade.failed") ==
             "msg=upgrade.failed component=db empty=\"\" output=\"said \\\"no\\\" = x\\nnext\\\\\" exit_code=3 "
             "rollback=false duration=1.500s");
  BOOST_TEST(f.Render(LogFormat::kText, "upgrade.failed").starts_with("upgrade.failed component=db"));
  const auto j = ParseObject(f.Render(LogFormat::kJson, "upgrade.failed"));
  BOOST_TEST(j["msg"] == "upgrade.failed");
  BOOST_TEST(j["output"] == "said \"no\" = x\nnext\\");
  BOOST_TEST(j["exit_code"] == 3);
  BOOST_TEST(j["rollback"] == false);
  BOOST_TEST(j["duration"] == 1.5);
  LogFields bad;
  bad.Add("output", std::string_view("\xff\xfe ok"));  // not UTF-8: still valid JSON
  BOOST_TEST(ParseObject(bad.Render(LogFormat::kJson, "x"))["output"].is_string());
}

BOOST_AUTO_TEST_CASE(listen_addresses_are_host_and_port) {
  std::string host;
  int port = -1;
  BOOST_TEST(SplitHostPort("127.0.0.1:9464", &host, &port));
  BOOST_TEST(host == "127.0.0.1");
  BOOST_TEST(port == 9464);
  BOOST_TEST(SplitHostPort("[::1]:0", &host, &port));
  BOOST_TEST(host == "::1");
  BOOST_TEST(port == 0);
  BOOST_TEST(!SplitHostPort("9464", &host, &port));
  BOOST_TEST(!SplitHostPort("::1:9464", &host, &port));
  BOOST_TEST(!SplitHostPort("127.0.0.1:65536", &host, &port));
  BOOST_TEST(!SplitHostPort("127.0.0.1:http", &host, &port));
}
