# The live dashboard (issue 12, part 5): a real upgraded with --dashboard,
# opened in headless Chromium while a canary runs. The screenshots land in
# the build's tests/ directory. Included by CMakeLists.txt.
add_test(NAME dashboard_test
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/dashboard_test.py
          --upgraded $<TARGET_FILE:upgraded> --upgradectl $<TARGET_FILE:upgradectl>
          --screenshot ${CMAKE_CURRENT_BINARY_DIR}/dashboard_test.png)
set_tests_properties(dashboard_test PROPERTIES LABELS e2e TIMEOUT 600)
