# Typed query replies (issue 11): every query kind decoded typed, replies
# that do not verify, the JSON form against stock flatc, page boundaries,
# concurrent readers. Calls AnswerQuery itself (engine/service/src) on
# hand-built states. Included by CMakeLists.txt.
noodle_test(typed_queries_test typed_queries_test.cc LIBS noodle_service cppzmq nlohmann_json::nlohmann_json
  LABELS integration)
target_include_directories(typed_queries_test PRIVATE ${CMAKE_SOURCE_DIR}/engine/service/src)
add_dependencies(typed_queries_test upgradectl)
