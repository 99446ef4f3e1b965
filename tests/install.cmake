# Install and packaging (issue 12): the installed tree and a project that
# builds against it (tests/install_consumer), the bash completion, and the
# docs/cli pages against the programs' --help.
noodle_test(install_test install_test.cc LIBS noodle_daemon_process LABELS integration)
string(REGEX MATCH "^[0-9]+\\.[0-9]+" noodle_major_minor ${PROJECT_VERSION})
set(consumer_flags "")
if(NOODLE_SANITIZE STREQUAL "thread")
  set(consumer_flags "-fsanitize=thread")
elseif(NOODLE_SANITIZE)
  set(consumer_flags "-fsanitize=address,undefined")
endif()
target_compile_definitions(install_test PRIVATE CMAKE_COMMAND="${CMAKE_COMMAND}" BUILD_DIR="${CMAKE_BINARY_DIR}"
  CONSUMER_DIR="${CMAKE_CURRENT_SOURCE_DIR}/install_consumer" CXX_COMPILER="${CMAKE_CXX_COMPILER}"
  CONSUMER_CXX_FLAGS="${consumer_flags}" INSTALL_LIBDIR="${CMAKE_INSTALL_LIBDIR}"
  PROJECT_VERSION="${PROJECT_VERSION}" NOODLE_VERSION_MAJOR_MINOR="${noodle_major_minor}")
add_dependencies(install_test upgraded upgradectl noodle-log upgrade-agent noodle-plugin-trial)
set_tests_properties(install_test PROPERTIES TIMEOUT 900)

add_test(NAME completion_test COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/completion_test.sh
  ${CMAKE_SOURCE_DIR}/packaging/noodle.bash-completion $<TARGET_FILE_DIR:upgradectl>)
set_tests_properties(completion_test PROPERTIES LABELS unit)

add_test(NAME cli_docs COMMAND bash ${CMAKE_SOURCE_DIR}/tools/dev/gen-cli-docs.sh --check ${CMAKE_BINARY_DIR})
set_tests_properties(cli_docs PROPERTIES LABELS unit)
