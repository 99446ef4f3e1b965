# Observability (issue 12, part 4): the metrics registry and log formats
# alone, then a real upgraded scraped with Debian's Prometheus text parser
# and its lifecycle lines read in logfmt and JSON. Included by CMakeLists.txt.
noodle_test(metrics_test metrics_test.cc LIBS noodle_metrics noodle_log_format noodle_http
  nlohmann_json::nlohmann_json LABELS unit)

