# Component specs (issue 12): the parser alone (unit), and upgradectl, a
# daemon and the JSON Schema in docs/ against it (integration).
noodle_test(component_spec_test component_spec_test.cc LIBS noodle_ctl_commands LABELS unit)
noodle_test(component_spec_cli_test component_spec_cli_test.cc LIBS noodle_ctl_commands noodle_daemon_process
  LABELS integration)
target_compile_definitions(component_spec_cli_test PRIVATE UPGRADED_PATH="$<TARGET_FILE:upgraded>"
  SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_dependencies(component_spec_cli_test upgraded upgradectl)
