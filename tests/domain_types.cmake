# Domain values typed by the schema (issue 11, point 4): step actions, timer
# kinds, validation codes, one StepOutcome and one strategy. Included by
# CMakeLists.txt.
noodle_test(domain_types_test domain_types.cc LIBS noodle_world nlohmann_json::nlohmann_json LABELS unit)
