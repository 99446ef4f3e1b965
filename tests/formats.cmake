# Stored formats that evolve (issue 10, points 4 and 5): schemas that conform
# to the last release, versioned projection snapshots, and a data directory
# of the last release that this build must open. Included by CMakeLists.txt.

# Every released schema, compiled against the current one by flatc --conform.
set(NOODLE_RELEASED_SCHEMAS ${CMAKE_SOURCE_DIR}/schemas/released)
add_test(NAME schemas_conform_to_release
  COMMAND ${CMAKE_COMMAND} -DFLATC=$<TARGET_FILE:flatbuffers::flatc> -DRELEASED=${NOODLE_RELEASED_SCHEMAS}
          -DCURRENT=${NOODLE_SCHEMA_DIR} -P ${NOODLE_RELEASED_SCHEMAS}/check.cmake)
# The same check on copies with a field renumbered, retyped or removed and an
# enum value renumbered: each must be refused (and an appended field accepted).
add_test(NAME schemas_conform_check_bites
  COMMAND ${CMAKE_COMMAND} -DFLATC=$<TARGET_FILE:flatbuffers::flatc> -DRELEASED=${NOODLE_RELEASED_SCHEMAS}
          -DCURRENT=${NOODLE_SCHEMA_DIR} -DMODE=bites -DWORK=${CMAKE_CURRENT_BINARY_DIR}/conform_bites
          -P ${NOODLE_RELEASED_SCHEMAS}/check.cmake)
set_tests_properties(schemas_conform_to_release schemas_conform_check_bites PROPERTIES LABELS "integration;faults")

# Snapshot blobs written by 0.1.0 (format 1), decoded by projections_test.
target_compile_definitions(projections_test PRIVATE
  SNAPSHOT_FORMAT1_DIR="${CMAKE_CURRENT_SOURCE_DIR}/data/snapshot-format-1")

noodle_test(snapshot_format_test snapshot_format_test.cc LIBS noodle_service nlohmann_json::nlohmann_json
  LABELS integration faults)

# The data directories of past releases, data/release-* (each made by
# tools/dev/make-compat-data.sh); the test works on copies.
noodle_test(compat_test compat_test.cc LIBS noodle_service nlohmann_json::nlohmann_json LABELS integration faults)
target_compile_definitions(compat_test PRIVATE
  COMPAT_DATA_ROOT="${CMAKE_CURRENT_SOURCE_DIR}/data"
  COMPAT_HOOKS_DIR="${CMAKE_SOURCE_DIR}/examples/hooks")
