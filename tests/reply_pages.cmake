# Replies within a size budget (issue 10, point 3): paged listings on a real
# engine and log, and upgradectl and the Python client following the pages
# of a real daemon. Included by CMakeLists.txt.
noodle_test(reply_pages_test reply_pages_test.cc LIBS noodle_service noodle_bus noodle_daemon_process
  nlohmann_json::nlohmann_json LABELS integration)
target_compile_definitions(reply_pages_test PRIVATE UPGRADED_PATH="$<TARGET_FILE:upgraded>"
  PYTHON_PATH="/usr/bin/python3" PYTHON_GEN_DIR="${NOODLE_PYTHON_DIR}"
  PYTHON_CLIENT="${CMAKE_SOURCE_DIR}/examples/python/noodle_client.py")
add_dependencies(reply_pages_test upgraded upgradectl noodle_python)
set_tests_properties(reply_pages_test PROPERTIES TIMEOUT 600)
