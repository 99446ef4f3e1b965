# Property tests of the engine service (issue 11): the real engine over a
# real log, a scripted executor, and an oracle folded from the log.
target_sources(engine_property_test PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/support/engine_model.cc
  ${CMAKE_CURRENT_LIST_DIR}/support/engine_harness.cc
  ${CMAKE_CURRENT_LIST_DIR}/support/engine_driver.cc)
target_link_libraries(engine_property_test PRIVATE noodle_service nlohmann_json::nlohmann_json)
