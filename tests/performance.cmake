# The seed's performance scenarios and limits (issue 13), through the real
# daemon and upgradectl; the only suite with timing assertions.
noodle_test(performance_test performance_test.cc LIBS noodle_daemon_process nlohmann_json::nlohmann_json LABELS performance)
target_compile_definitions(performance_test PRIVATE UPGRADED_PATH="$<TARGET_FILE:upgraded>")
add_dependencies(performance_test upgraded upgradectl)
# Alone: the seed's limits are for an upgrade on a machine not also running
# other suites (ctest -j would share the cores with them).
set_tests_properties(performance_test PROPERTIES RUN_SERIAL TRUE)
