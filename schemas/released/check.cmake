# Checks that schemas evolve compatibly, with flatc's own rules:
# `flatc --conform OLD NEW` compiles NEW and fails when it is not an
# evolution of OLD (a field renumbered, retyped or removed, an enum value
# changed). Run with cmake -P:
#   -DFLATC=<flatc> -DRELEASED=<schemas/released> -DCURRENT=<schemas>
#       each released X.fbs against the current X.fbs; a released schema
#       missing from CURRENT fails too.
#   ... -DMODE=bites -DWORK=<scratch dir>
#       proves the check can fail: mutated copies of the released schemas
#       (a field renumbered, a field retyped, an enum value renumbered, a
#       field removed) must be refused, and an append at the end of a table
#       must pass.
cmake_minimum_required(VERSION 3.25)
foreach(v FLATC RELEASED CURRENT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "check.cmake: -D${v}= is required")
  endif()
endforeach()

# Runs flatc --conform old new; sets ${out_rc} and ${out_msg}. flatc writes
# nothing when it only checks; the working directory is a scratch one anyway.
function(conform old new out_rc out_msg)
  get_filename_component(dir ${new} DIRECTORY)
  execute_process(COMMAND ${FLATC} --conform ${old} ${new}
    WORKING_DIRECTORY ${dir} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${out_rc} ${rc} PARENT_SCOPE)
  set(${out_msg} "${out}${err}" PARENT_SCOPE)
endfunction()

file(GLOB released_files ${RELEASED}/*.fbs)
if(NOT released_files)
  message(FATAL_ERROR "no released schemas in ${RELEASED}")
endif()

if(NOT MODE STREQUAL "bites")
  set(failed "")
  foreach(old ${released_files})
    get_filename_component(name ${old} NAME)
    if(NOT EXISTS ${CURRENT}/${name})
      list(APPEND failed ${name})
      message(SEND_ERROR "${name}: released, but no longer in ${CURRENT} (a schema file is never removed)")
      continue()
    endif()
    conform(${old} ${CURRENT}/${name} rc msg)
    if(rc EQUAL 0)
      message(STATUS "${name}: conforms to the released schema")
    else()
      list(APPEND failed ${name})
      message(SEND_ERROR "${name} does not conform to ${old}:\n${msg}")
    endif()
  endforeach()
  if(failed)
    message(FATAL_ERROR "schemas that break the released format: ${failed}")
  endif()
  return()
endif()

# MODE bites: each case edits one released file in a fresh copy of them all.
if(NOT DEFINED WORK)
  message(FATAL_ERROR "check.cmake: -DWORK= is required with MODE=bites")
endif()
set(ok TRUE)
# mutation(LABEL FILE FROM TO refused|accepted [CHECKED]): FILE with FROM
# replaced by TO; CHECKED (default FILE) is the schema compiled against its
# released copy.
function(mutation label file from to expect)
  set(checked ${file})
  if(ARGC GREATER 5)
    set(checked ${ARGV5})
  endif()
  set(dir ${WORK}/${label})
  file(REMOVE_RECURSE ${dir})
  file(MAKE_DIRECTORY ${dir})
  file(COPY ${released_files} DESTINATION ${dir})
  file(READ ${dir}/${file} text)
  string(FIND "${text}" "${from}" at)
  if(at EQUAL -1)
    message(SEND_ERROR "${label}: '${from}' is not in released ${file}; the case tests nothing")
    set(ok FALSE PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "${from}" "${to}" text "${text}")
  file(WRITE ${dir}/${file} "${text}")
  conform(${RELEASED}/${checked} ${dir}/${checked} rc msg)
  string(STRIP "${msg}" msg)
  if(expect STREQUAL "refused" AND rc EQUAL 0)
    message(SEND_ERROR "${label}: flatc --conform accepted it")
    set(ok FALSE PARENT_SCOPE)
  elseif(expect STREQUAL "refused" AND NOT msg MATCHES "conform")
    message(SEND_ERROR "${label}: flatc failed, but not on conformance: ${msg}")
    set(ok FALSE PARENT_SCOPE)
  elseif(expect STREQUAL "accepted" AND NOT rc EQUAL 0)
    message(SEND_ERROR "${label}: flatc --conform refused a compatible change: ${msg}")
    set(ok FALSE PARENT_SCOPE)
  else()
    message(STATUS "${label}: ${expect} as it should be (${msg})")
  endif()
endfunction()

mutation(renumbered common.fbs
  "  hot_swappable:bool = true;\n  critical:bool = false;\n"
  "  critical:bool = false;\n  hot_swappable:bool = true;\n" refused)
mutation(retyped common.fbs "  critical:bool = false;\n" "  critical:int = 0;\n" refused)
# A type changed in an included file breaks the schemas that include it too.
mutation(retyped_in_include common.fbs "  critical:bool = false;\n" "  critical:int = 0;\n" refused events.fbs)
mutation(enum_renumbered events.fbs "RolledBack = 4" "RolledBack = 5" refused)
mutation(removed common.fbs "  critical:bool = false;\n" "" refused)
mutation(appended common.fbs "  instances:[string];\n}" "  instances:[string];\n  added_later:string;\n}" accepted)
if(NOT ok)
  message(FATAL_ERROR "the conformance check does not catch what it must")
endif()
