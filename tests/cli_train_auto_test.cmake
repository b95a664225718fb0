# `frugal train` chooses its settings on held-out training rows, never on the
# test file: the choice is the same without --test, with it, and with its rows
# reversed; with every setting given there is no search.
#
#   cmake -DFRUGAL=<frugal binary> -DWORK_DIR=<scratch dir> -P cli_train_auto_test.cmake
cmake_minimum_required(VERSION 3.25)

if(NOT FRUGAL OR NOT WORK_DIR)
  message(FATAL_ERROR "pass -DFRUGAL=<frugal binary> -DWORK_DIR=<dir>")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

include(${CMAKE_CURRENT_LIST_DIR}/cli_run.cmake)

run(generate --train ${WORK_DIR}/train.txt --test ${WORK_DIR}/test.txt
    --train-samples 1500 --test-samples 300 --labels 60 --features 400)
# The test file with its rows reversed (header first).
file(STRINGS ${WORK_DIR}/test.txt lines)
list(POP_FRONT lines header)
list(REVERSE lines)
list(JOIN lines "\n" body)
file(WRITE ${WORK_DIR}/reversed.txt "${header}\n${body}\n")

set(common --train ${WORK_DIR}/train.txt --epochs 4 --budget 100000 --json --threads 2)
set(choices)
foreach(test "" ${WORK_DIR}/test.txt ${WORK_DIR}/reversed.txt)
  if(test)
    run(train ${common} --test ${test})
  else()
    run(train ${common})
  endif()
  string(FIND "${OUT}" "\"candidate\"" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "no candidates reported:\n${OUT}")
  endif()
  # The chosen settings and their validation figure (timings differ).
  string(REGEX MATCH "\"chosen\": {[^}]*}, \"valid_p@1\": [0-9.]+" chosen "${OUT}")
  if(NOT chosen)
    message(FATAL_ERROR "no choice reported:\n${OUT}")
  endif()
  list(APPEND choices "${chosen}")
endforeach()
list(REMOVE_DUPLICATES choices)
list(LENGTH choices n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "the choice depends on the test file: ${choices}")
endif()

# Every setting given: one run, no candidates.
run(train --train ${WORK_DIR}/train.txt --hidden 64 --loss softmax --lr 0.002
    --batch 64 --epochs 2 --json --threads 2)
string(FIND "${OUT}" "candidate" at)
if(NOT at EQUAL -1)
  message(FATAL_ERROR "searched although every setting was given:\n${OUT}")
endif()
message(STATUS "choice without and with the test file: ${choices}")
