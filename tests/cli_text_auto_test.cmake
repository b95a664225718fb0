# `frugal text train` chooses its settings on held-out training rows, never on
# the test file: the choice is the same without --test, with it, and with its
# rows reversed; with the batch and character n-grams given there is no
# search.
#
#   cmake -DFRUGAL=<frugal binary> -DDATA=<shared data dir> -DWORK_DIR=<dir> -P cli_text_auto_test.cmake
cmake_minimum_required(VERSION 3.25)

if(NOT FRUGAL OR NOT DATA OR NOT WORK_DIR)
  message(FATAL_ERROR "pass -DFRUGAL=<frugal binary> -DDATA=<dir> -DWORK_DIR=<dir>")
endif()
set(train ${DATA}/trec/train.csv)
set(test ${DATA}/trec/test.csv)
if(NOT EXISTS ${train} OR NOT EXISTS ${test})
  message(STATUS "trec not found in ${DATA}: skipped")
  return()
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)

# The test file with its rows reversed (no header).
file(STRINGS ${test} lines)
list(REVERSE lines)
list(JOIN lines "\n" body)
file(WRITE ${WORK_DIR}/reversed.csv "${body}\n")

set(common text train --train ${train} --no-header --label-col 0 --text-col 1
    --last-column-rest --json --threads 2 --seed 3)
set(choices)
foreach(t "" ${test} ${WORK_DIR}/reversed.csv)
  if(t)
    run(${common} --test ${t})
  else()
    run(${common})
  endif()
  # The chosen settings and every candidate's held-out figure.
  string(REGEX MATCH "\"batch\": [0-9]+" batch "${OUT}")
  string(REGEX MATCH "\"char_ngrams\": [0-9]+, \"search_s\"" chars "${OUT}")
  string(REGEX MATCH "\"candidates\": \\[[^]]*\\]" candidates "${OUT}")
  if(NOT batch OR NOT chars OR NOT candidates OR candidates STREQUAL "\"candidates\": []")
    message(FATAL_ERROR "no choice reported:\n${OUT}")
  endif()
  list(APPEND choices "${batch} ${chars} ${candidates}")
endforeach()
list(REMOVE_DUPLICATES choices)
list(LENGTH choices n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "the choice depends on the test file: ${choices}")
endif()

# What the search chooses given (and so every setting the rules would
# otherwise set): one run, no candidates.
run(text train --train ${train} --no-header --label-col 0 --text-col 1 --last-column-rest
    --json --threads 2 --batch 64 --char-ngrams 0 --ngrams 2 --hidden 32 --epochs 2 --lr 0.001)
string(FIND "${OUT}" "\"candidates\": []" at)
if(at EQUAL -1)
  message(FATAL_ERROR "searched although the searched settings were given:\n${OUT}")
endif()
message(STATUS "choice without and with the test file: ${choices}")
