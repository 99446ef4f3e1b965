# The seed's test data (issue 13): tests/data/{components,upgrades,versions}
# in the seed's field names, each case with its expected_result, run against
# the real daemon and upgradectl and the SemVer library.
noodle_test(seed_data_test seed_data_test.cc LIBS noodle_core noodle_daemon_process nlohmann_json::nlohmann_json LABELS integration)
target_compile_definitions(seed_data_test PRIVATE UPGRADED_PATH="$<TARGET_FILE:upgraded>"
  SEED_DATA_DIR="${CMAKE_SOURCE_DIR}/tests/data")
add_dependencies(seed_data_test upgraded upgradectl)
