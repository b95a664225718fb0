# Installs frugal from a build tree into a scratch prefix, then configures,
# builds and runs the consumer project against it with find_package(frugal).
#
#   cmake -DFRUGAL_BINARY_DIR=<frugal build dir>
#         -DCONSUMER_SOURCE_DIR=<this directory>
#         -DWORK_DIR=<scratch dir, deleted first>
#         -P run_consumer_test.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var FRUGAL_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "pass -D${var}=...")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")

# Runs one step; stops with its output unless it exits 0.
function(step name)
  message(STATUS "consumer: ${name}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc STREQUAL "0")
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "consumer step '${name}' failed (exit code ${rc})\n"
      "command: ${cmd}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
  endif()
  set(step_OUT "${out}" PARENT_SCOPE)
endfunction()

# Build with the same generator and compiler as frugal itself.
set(consumer_args)
file(STRINGS "${FRUGAL_BINARY_DIR}/CMakeCache.txt" cache
  REGEX "^(CMAKE_GENERATOR|CMAKE_CXX_COMPILER):[A-Z]+=")
foreach(entry IN LISTS cache)
  if(entry MATCHES "^CMAKE_GENERATOR:[A-Z]+=(.+)$")
    list(APPEND consumer_args -G "${CMAKE_MATCH_1}")
  elseif(entry MATCHES "^CMAKE_CXX_COMPILER:[A-Z]+=(.+)$")
    list(APPEND consumer_args "-DCMAKE_CXX_COMPILER=${CMAKE_MATCH_1}")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

step(install
  ${CMAKE_COMMAND} --install "${FRUGAL_BINARY_DIR}" --prefix "${prefix}")
if(NOT EXISTS "${prefix}/include/frugal/frugal.h")
  message(FATAL_ERROR "install put no include/frugal/frugal.h under ${prefix}")
endif()

# The library directory (lib, lib64 or lib/<multiarch>, per GNUInstallDirs).
file(GLOB_RECURSE libs LIST_DIRECTORIES false "${prefix}/libfrugal.*")
if(NOT libs)
  message(FATAL_ERROR "install put no libfrugal under ${prefix}")
endif()
list(GET libs 0 lib)
get_filename_component(libdir "${lib}" DIRECTORY)

step(configure
  ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}" -B "${build}"
  ${consumer_args} -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_PREFIX_PATH=${prefix}")
step(build ${CMAKE_COMMAND} --build "${build}")

# Multi-config generators put it one level down (Release/app).
set(app "${build}/app")
if(NOT EXISTS "${app}")
  file(GLOB_RECURSE apps LIST_DIRECTORIES false "${build}/app")
  if(NOT apps)
    message(FATAL_ERROR "the consumer build produced no 'app' under ${build}")
  endif()
  list(GET apps 0 app)
endif()
step(run ${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${libdir}" "${app}")
message(STATUS "consumer: ${step_OUT}")
if(NOT step_OUT MATCHES "frugal consumer: .* OK")
  message(FATAL_ERROR "unexpected consumer output:\n${step_OUT}")
endif()
