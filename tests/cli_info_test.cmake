# `frugal info` runs, reports every kernel's variant, and FRUGAL_ISA caps or
# refuses as documented.
#
#   cmake -DFRUGAL=<path to the frugal binary> [-DFRUGAL_EMULATOR="qemu-aarch64 ..."]
#         -P cli_info_test.cmake
#
# FRUGAL_EMULATOR (space-separated command) runs a cross-compiled binary.
cmake_minimum_required(VERSION 3.25)

if(NOT FRUGAL)
  message(FATAL_ERROR "pass -DFRUGAL=<path to the frugal binary>")
endif()
separate_arguments(emulator UNIX_COMMAND "${FRUGAL_EMULATOR}")

# Runs `frugal <args...>` with FRUGAL_ISA set to `isa` ("" to unset it).
# Sets <prefix>_RC, <prefix>_OUT, <prefix>_ERR in the caller.
function(run_frugal prefix isa)
  if(isa STREQUAL "")
    set(env --unset=FRUGAL_ISA)
  else()
    set(env FRUGAL_ISA=${isa})
  endif()
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env ${env} ${emulator} ${FRUGAL} ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(${prefix}_RC "${rc}" PARENT_SCOPE)
  set(${prefix}_OUT "${out}" PARENT_SCOPE)
  set(${prefix}_ERR "${err}" PARENT_SCOPE)
  list(JOIN ARGN " " args)
  set(${prefix}_CMD "FRUGAL_ISA=${isa} ${FRUGAL} ${args}" PARENT_SCOPE)
endfunction()

function(fail prefix what)
  message(FATAL_ERROR "${what}\n"
    "command: ${${prefix}_CMD}\nexit code: ${${prefix}_RC}\n"
    "--- stdout ---\n${${prefix}_OUT}\n--- stderr ---\n${${prefix}_ERR}")
endfunction()

function(expect_ok prefix)
  if(NOT "${${prefix}_RC}" STREQUAL "0")
    fail(${prefix} "expected exit code 0")
  endif()
endfunction()

# Parses the kernel table of the text output into <prefix>_KERNELS (names) and
# <prefix>_CHOSEN (chosen variants), in order.
function(parse_text_table prefix)
  string(FIND "${${prefix}_OUT}" "\nkernel " start)
  if(start EQUAL -1)
    fail(${prefix} "no kernel table in the output")
  endif()
  string(SUBSTRING "${${prefix}_OUT}" ${start} -1 table)
  string(REPLACE "\n" ";" lines "${table}")
  set(kernels)
  set(chosen)
  foreach(line IN LISTS lines)
    if(line STREQUAL "" OR line MATCHES "^kernel ")
      continue()
    endif()
    if(NOT line MATCHES "^([A-Za-z0-9_]+) +([a-z0-9_]+) +([a-z0-9_ ]+)$")
      fail(${prefix} "malformed kernel line '${line}'")
    endif()
    list(APPEND kernels "${CMAKE_MATCH_1}")
    list(APPEND chosen "${CMAKE_MATCH_2}")
    set(compiled "${CMAKE_MATCH_3}")
    separate_arguments(compiled)
    if(NOT "${CMAKE_MATCH_2}" IN_LIST compiled)
      fail(${prefix} "kernel ${CMAKE_MATCH_1}: chosen variant is not compiled")
    endif()
  endforeach()
  list(LENGTH kernels n)
  if(n EQUAL 0)
    fail(${prefix} "the kernel table is empty")
  endif()
  set(${prefix}_KERNELS "${kernels}" PARENT_SCOPE)
  set(${prefix}_CHOSEN "${chosen}" PARENT_SCOPE)
endfunction()

# Checks that every kernel chose the first of `prefs` (a list of variant
# names, best first) that it has compiled, and that none chose a name in
# `forbidden`. Uses `frugal info --json` (FRUGAL_ISA=isa) and checks the text
# output of `frugal info` agrees with it.
function(expect_choices isa prefs forbidden)
  run_frugal(json "${isa}" info --json)
  expect_ok(json)
  string(JSON n ERROR_VARIABLE json_error LENGTH "${json_OUT}" kernels)
  if(json_error)
    fail(json "output is not the expected JSON: ${json_error}")
  endif()
  if(n EQUAL 0)
    fail(json "no kernels listed")
  endif()
  if(isa STREQUAL "")
    string(JSON value TYPE "${json_OUT}" frugal_isa)
    set(expected_isa NULL)
  else()
    string(JSON value GET "${json_OUT}" frugal_isa)
    set(expected_isa "${isa}")
  endif()
  if(NOT value STREQUAL expected_isa)
    fail(json "frugal_isa is '${value}', expected '${expected_isa}'")
  endif()

  math(EXPR last "${n} - 1")
  set(json_kernels)
  set(json_chosen)
  foreach(i RANGE ${last})
    string(JSON name GET "${json_OUT}" kernels ${i} name)
    string(JSON chosen GET "${json_OUT}" kernels ${i} chosen)
    string(JSON m LENGTH "${json_OUT}" kernels ${i} compiled)
    if(m EQUAL 0)
      fail(json "kernel ${name}: no compiled variants listed")
    endif()
    math(EXPR m_last "${m} - 1")
    set(compiled)
    foreach(j RANGE ${m_last})
      string(JSON v GET "${json_OUT}" kernels ${i} compiled ${j})
      list(APPEND compiled "${v}")
    endforeach()
    list(GET compiled -1 least)
    if(NOT least STREQUAL "reference")
      fail(json "kernel ${name}: the last compiled variant is not 'reference'")
    endif()
    set(expected "")
    foreach(p IN LISTS prefs)
      if(p IN_LIST compiled)
        set(expected "${p}")
        break()
      endif()
    endforeach()
    if(NOT chosen STREQUAL expected)
      fail(json "kernel ${name} chose '${chosen}', expected '${expected}' "
                "(first of '${prefs}' among compiled '${compiled}')")
    endif()
    if(chosen IN_LIST forbidden)
      fail(json "kernel ${name} chose '${chosen}', one of '${forbidden}'")
    endif()
    list(APPEND json_kernels "${name}")
    list(APPEND json_chosen "${chosen}")
  endforeach()

  run_frugal(text "${isa}" info)
  expect_ok(text)
  parse_text_table(text)
  if(NOT text_KERNELS STREQUAL json_kernels OR
     NOT text_CHOSEN STREQUAL json_chosen)
    fail(text "the text table (${text_KERNELS} / ${text_CHOSEN}) disagrees "
              "with --json (${json_kernels} / ${json_chosen})")
  endif()
  if(NOT isa STREQUAL "" AND
     NOT text_OUT MATCHES "\nFRUGAL_ISA: +${isa}\n")
    fail(text "no 'FRUGAL_ISA: ${isa}' line")
  endif()
  list(LENGTH json_kernels count)
  list(REMOVE_DUPLICATES json_chosen)
  list(JOIN json_chosen ", " json_chosen)
  message(STATUS "FRUGAL_ISA='${isa}': ${count} kernels, chosen: ${json_chosen}")
endfunction()

# Expects `frugal info` to fail with exit code `rc` ("nonzero" for any
# failure) and an error on stderr matching every regex in ARGN.
function(expect_isa_error isa rc)
  foreach(mode "" "--json")
    run_frugal(bad "${isa}" info ${mode})
    if(rc STREQUAL "nonzero")
      if(bad_RC STREQUAL "0")
        fail(bad "expected a failure for FRUGAL_ISA=${isa}")
      endif()
    elseif(NOT bad_RC STREQUAL "${rc}")
      fail(bad "expected exit code ${rc} for FRUGAL_ISA=${isa}")
    endif()
    if(NOT bad_ERR MATCHES "^frugal: error: ")
      fail(bad "expected 'frugal: error: <message>' on stderr")
    endif()
    foreach(re IN LISTS ARGN)
      if(NOT bad_ERR MATCHES "${re}")
        fail(bad "the error message does not mention '${re}'")
      endif()
    endforeach()
    if(NOT bad_OUT STREQUAL "")
      fail(bad "expected no output on stdout after an error")
    endif()
  endforeach()
endfunction()

# --- The command line itself -------------------------------------------------
run_frugal(help "" --help)
expect_ok(help)
if(NOT help_OUT MATCHES "usage: frugal <command>" OR
   NOT help_OUT MATCHES "\n  info ")
  fail(help "--help does not list the commands")
endif()
run_frugal(unknown "" no-such-command)
if(NOT unknown_RC STREQUAL "2" OR NOT unknown_ERR MATCHES "usage: frugal")
  fail(unknown "an unknown command should print the usage on stderr, exit 2")
endif()
run_frugal(badopt "" info --no-such-option)
if(NOT badopt_RC STREQUAL "2" OR NOT badopt_ERR MATCHES "usage: frugal info")
  fail(badopt "an unknown option should print the usage on stderr, exit 2")
endif()

# --- No cap: the best variant this CPU runs -----------------------------------
run_frugal(info "" info)
expect_ok(info)
foreach(label "cpu" "architecture" "cores" "features" "isa" "FRUGAL_ISA"
        "allowed isa" "highway targets")
  if(NOT info_OUT MATCHES "\n${label}: +[^\n]+\n")
    fail(info "no '${label}:' line")
  endif()
endforeach()
run_frugal(arch "" info --json)
expect_ok(arch)
string(JSON arch GET "${arch_OUT}" cpu arch)

# The host's view, independent of cpuinfo: /proc/cpuinfo flags (an emulated
# aarch64 binary's host is not the CPU it sees).
set(host_avx512 FALSE)
if(arch STREQUAL "x86_64" AND EXISTS /proc/cpuinfo)
  file(READ /proc/cpuinfo cpuinfo)
  if(cpuinfo MATCHES "[ \t]avx512f[ \n]" AND cpuinfo MATCHES "[ \t]avx512vl[ \n]"
     AND cpuinfo MATCHES "[ \t]avx512dq[ \n]"
     AND cpuinfo MATCHES "[ \t]avx512bw[ \n]")
    set(host_avx512 TRUE)
  endif()
endif()

set(all_variants avx512 avx2 sse4 sve2_128 sve_256 sve2 sve neon scalar
    reference)
if(arch STREQUAL "aarch64")
  # The best variant the reported features allow (the requirements of
  # dispatch/registry.cc RequiredIsa, restated), or FRUGAL_EXPECT_TARGET when
  # set (make test-aarch64 sets it per emulated CPU model).
  string(JSON isa GET "${arch_OUT}" cpu isa)
  string(JSON sve_bits GET "${arch_OUT}" cpu sve_vector_bits)
  separate_arguments(isa)
  set(prefs)
  if("sve2" IN_LIST isa AND "sve-vl128" IN_LIST isa)
    list(APPEND prefs sve2_128)
  endif()
  if("sve" IN_LIST isa AND "sve-vl256" IN_LIST isa)
    list(APPEND prefs sve_256)
  endif()
  if("sve2" IN_LIST isa)
    list(APPEND prefs sve2)
  endif()
  if("sve" IN_LIST isa)
    list(APPEND prefs sve)
    if(NOT info_OUT MATCHES "\nsve vector: +${sve_bits} bits\n" OR
       sve_bits LESS 128)
      fail(info "SVE but no 'sve vector: <bits> bits' line agreeing with "
                "--json (${sve_bits})")
    endif()
  endif()
  list(APPEND prefs neon reference)
  if(DEFINED ENV{FRUGAL_EXPECT_SVE_BITS} AND
     NOT sve_bits STREQUAL "$ENV{FRUGAL_EXPECT_SVE_BITS}")
    fail(info "SVE vector length ${sve_bits} bits, expected "
              "$ENV{FRUGAL_EXPECT_SVE_BITS}")
  endif()
  if(DEFINED ENV{FRUGAL_EXPECT_TARGET})
    set(prefs "$ENV{FRUGAL_EXPECT_TARGET}")
  endif()
  message(STATUS "aarch64, isa '${isa}', SVE ${sve_bits} bits: expecting "
                 "the first of '${prefs}'")
  expect_choices("" "${prefs}" "")
elseif(host_avx512)
  message(STATUS "host has AVX-512 (F, VL, DQ, BW): expecting avx512")
  if(NOT info_OUT MATCHES "\nallowed isa: +[^\n]*avx512")
    fail(info "the host has AVX-512 but the allowed isa lacks it")
  endif()
  expect_choices("" "${all_variants}" "")
  parse_text_table(info)
  if(NOT "avx512" IN_LIST info_CHOSEN)
    fail(info "the host has AVX-512 but no kernel chose avx512")
  endif()
else()
  message(STATUS "host lacks AVX-512: expecting no avx512 variant chosen")
  list(REMOVE_ITEM all_variants avx512)
  expect_choices("" "${all_variants}" "avx512")
endif()

# --- Caps ---------------------------------------------------------------------
if(arch STREQUAL "x86_64")
  expect_choices(sse4 "sse4;scalar;reference" "avx2;avx512")
endif()
expect_choices(scalar "scalar;reference" "avx512;avx2;sse4;neon;sve;sve2")

# --- Refusals -------------------------------------------------------------------
expect_isa_error(bogus 1
  "bogus" "scalar" "sse4" "avx2" "avx512" "neon" "sve" "sve2")
if(arch STREQUAL "x86_64")
  expect_isa_error(neon nonzero "FRUGAL_ISA=neon" "lack|not supported|unsupported")
elseif(arch STREQUAL "aarch64")
  expect_isa_error(avx2 nonzero "FRUGAL_ISA=avx2" "lack|not supported|unsupported")
endif()

message(STATUS "cli_info: all checks passed")
