# Observability (issue 12, part 4): the metrics registry and log formats
# alone, then a real upgraded scraped with Debian's Prometheus text parser
# and its lifecycle lines read in logfmt and JSON. Included by CMakeLists.txt.
noodle_test(metrics_test metrics_test.cc LIBS noodle_metrics noodle_log_format noodle_http
  nlohmann_json::nlohmann_json LABELS unit)

add_test(NAME observability_test
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/observability_test.py
          --upgraded $<TARGET_FILE:upgraded> --upgradectl $<TARGET_FILE:upgradectl>)
set_tests_properties(observability_test PROPERTIES LABELS integration TIMEOUT 600)
