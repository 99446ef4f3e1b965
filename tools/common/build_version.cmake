# cmake -DVERSION=0.1.0 -DSOURCE_DIR=... -DOUT=.../noodle_build_version.h -P build_version.cmake
# Run at every build, so the text follows new commits without a reconfigure;
# OUT is rewritten only when the text changes, so nothing else recompiles.
set(text "${VERSION}")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --tags --always --dirty
                  WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE describe
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
  if(rc EQUAL 0 AND describe)
    set(text "${VERSION} (git ${describe})")
  endif()
endif()
set(content "#pragma once\n#define NOODLE_BUILD_VERSION \"${text}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${content}")
  file(WRITE ${OUT} "${content}")
endif()
