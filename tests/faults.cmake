# A real daemon on a full disk (a tmpfs in the test's own mount namespace)
# and SIGTERM during hooks.
noodle_test(faults_test faults_test.cc LIBS noodle_service noodle_bus noodle_store noodle_daemon_process
  nlohmann_json::nlohmann_json LABELS integration faults)
target_compile_definitions(faults_test PRIVATE UPGRADED_PATH="$<TARGET_FILE:upgraded>")
add_dependencies(faults_test upgraded)
