# One precompiled header for the whole GCC build: the standard library,
# nlohmann/json and FlatBuffers, which most translation units parse (a
# JSON-heavy one compiles about a third faster with it). Every C++ program
# and static library reuses the one PCH; GCC checks that it fits each
# compile (same -O, -g, -f options and macros it uses) and silently parses
# the headers instead where it does not. Only headers whose meaning no
# per-target macro changes go in (not spdlog, fmt or Boost.Test, which
# their link targets configure by -D).
# clang (the ASan and fuzz builds) rejects a PCH whose command-line macros
# differ, and coverage wants each unit's own counters: both go without.
option(NOODLE_PCH "Precompile the common headers (GCC builds, not coverage)" ON)

function(noodle_targets_under dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    noodle_targets_under("${sub}" more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(noodle_use_precompiled_headers)
  if(NOT NOODLE_PCH OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU" OR NOODLE_COVERAGE)
    return()
  endif()
  add_library(noodle_pch OBJECT ${CMAKE_SOURCE_DIR}/cmake/pch_donor.cc)
  target_precompile_headers(noodle_pch PRIVATE
    <algorithm> <chrono> <cstdint> <functional> <map> <memory> <mutex> <optional> <set> <string>
    <string_view> <unordered_map> <utility> <vector>
    <flatbuffers/flatbuffers.h> <nlohmann/json.hpp>)
  noodle_targets_under("${CMAKE_SOURCE_DIR}" targets)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    get_target_property(sources ${t} SOURCES)
    # Shared objects are built -fPIC, which the PCH is not.
    if(NOT t STREQUAL noodle_pch AND sources AND type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|OBJECT_LIBRARY)$")
      list(FILTER sources INCLUDE REGEX "\\.(cc|cpp)$")
      if(sources)
        target_precompile_headers(${t} REUSE_FROM noodle_pch)
      endif()
    endif()
  endforeach()
endfunction()
