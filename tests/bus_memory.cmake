# Bounded memory per subscriber (issue 10): the real daemon with a subscriber
# that never reads; its RSS while stalled and after it leaves.
noodle_test(bus_memory_test bus_memory_test.cc LIBS noodle_service noodle_bus noodle_daemon_process cppzmq
  LABELS integration faults)
target_compile_definitions(bus_memory_test PRIVATE UPGRADED_PATH="$<TARGET_FILE:upgraded>")
add_dependencies(bus_memory_test upgraded)
set_tests_properties(bus_memory_test PROPERTIES TIMEOUT 300)
