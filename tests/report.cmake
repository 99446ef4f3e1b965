# The JSON test report (issue 13): tools/dev/test_report.py builds it from
# the samples in tests/data/report/ and it must match tests/report.schema.json.
# Included by CMakeLists.txt.
add_test(NAME report_test COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/report_test.py)
set_tests_properties(report_test PROPERTIES LABELS unit)
