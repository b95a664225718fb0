# `frugal text train|evaluate|predict` on a small CSV: a model file round
# trip, predictions from stdin, malformed input and command lines.
#
#   cmake -DFRUGAL=<frugal binary> -DWORK_DIR=<scratch dir> -P cli_text_test.cmake
cmake_minimum_required(VERSION 3.25)

if(NOT FRUGAL OR NOT WORK_DIR)
  message(FATAL_ERROR "pass -DFRUGAL=<frugal binary> -DWORK_DIR=<dir>")
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs `frugal <args...>` (stdin from INPUT if set); sets RC, OUT, ERR, CMD.
function(run)
  cmake_parse_arguments(R "" "INPUT" "" ${ARGN})
  set(input)
  if(R_INPUT)
    set(input INPUT_FILE "${R_INPUT}")
  endif()
  execute_process(COMMAND ${FRUGAL} ${R_UNPARSED_ARGUMENTS} ${input}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  list(JOIN R_UNPARSED_ARGUMENTS " " args)
  set(RC "${rc}" PARENT_SCOPE)
  set(OUT "${out}" PARENT_SCOPE)
  set(ERR "${err}" PARENT_SCOPE)
  set(CMD "frugal ${args}" PARENT_SCOPE)
endfunction()

function(fail what)
  message(FATAL_ERROR "${what}\ncommand: ${CMD}\nexit code: ${RC}\n"
    "--- stdout ---\n${OUT}\n--- stderr ---\n${ERR}")
endfunction()

function(expect rc pattern stream)
  if(NOT "${RC}" STREQUAL "${rc}")
    fail("expected exit code ${rc}")
  endif()
  string(FIND "${${stream}}" "${pattern}" at)
  if(at EQUAL -1)
    fail("expected '${pattern}' in ${stream}")
  endif()
endfunction()

# Two classes told apart by a word, a category and a number.
set(rows "label,size,colour,text\n")
foreach(i RANGE 1 60)
  string(APPEND rows "big,${i}00,red,\"a large, heavy thing\"\n")
  string(APPEND rows "small,${i},blue,a tiny light thing\n")
endforeach()
file(WRITE "${WORK_DIR}/train.csv" "${rows}")
set(model "${WORK_DIR}/m.model")

run(text train --train ${WORK_DIR}/train.csv --test ${WORK_DIR}/train.csv
    --columns label:target,size:numeric,colour:categorical,text:text
    --threads 1 --model ${model})
expect(0 "test: accuracy 1.0000  roc_auc 1.0000  (120 rows" OUT)
expect(0 "featurized 120 rows" OUT)

run(text evaluate --model ${model} --test ${WORK_DIR}/train.csv --json)
expect(0 "\"rows\": 120, \"bad_rows\": 0, \"accuracy\": 1.000000, \"roc_auc\": 1.000000" OUT)

file(WRITE "${WORK_DIR}/rows.csv" "?,5000,red,large heavy\n?,3,blue,\"tiny, light\"\n")
run(text predict --model ${model} INPUT "${WORK_DIR}/rows.csv")
if(NOT RC EQUAL 0 OR NOT OUT MATCHES "^big\t[01]\\.[0-9]+\nsmall\t[01]\\.[0-9]+\n$")
  fail("expected 'big' then 'small', one 'label<TAB>probability' per row")
endif()
file(WRITE "${WORK_DIR}/rows2.csv" "5000,red,large heavy\n")
run(text predict --model ${model} --no-target INPUT "${WORK_DIR}/rows2.csv")
expect(0 "big\t" OUT)

# explain: the label, its probability and the units by weight.
run(text explain --model ${model} --no-target --top 3 INPUT "${WORK_DIR}/rows2.csv")
if(NOT RC EQUAL 0 OR NOT OUT MATCHES "^big\t[01]\\.[0-9]+(\t[0-9]+:[^\t=]+=[-+][0-9.]+)(\t[0-9]+:[^\t=]+=[-+][0-9.]+)(\t[0-9]+:[^\t=]+=[-+][0-9.]+)\n$")
  fail("expected 'big<TAB>p' and three 'column:unit=weight' items")
endif()
run(text explain --model ${model} --json INPUT "${WORK_DIR}/rows.csv")
expect(0 "{\"label\": \"big\", \"probability\": " OUT)
expect(0 "\"type\": \"categorical\", \"unit\": \"red\", \"weight\": " OUT)

# Malformed input: file, line, column and what was expected; exit 1.
file(WRITE "${WORK_DIR}/bad.csv" "label,size,colour,text\nbig,1,red,x\nsmall,ten,blue,y\n")
run(text train --train ${WORK_DIR}/bad.csv
    --columns label:target,size:numeric,colour:categorical,text:text)
expect(1 "frugal: error: ${WORK_DIR}/bad.csv:3: column 2: expected a number, got 'ten'" ERR)
run(text train --train ${WORK_DIR}/bad.csv --skip-bad-rows
    --columns label:target,size:numeric,colour:categorical,text:text)
expect(0 "1 bad rows skipped" OUT)
file(WRITE "${WORK_DIR}/quote.csv" "label,text\nbig,\"open\nsmall,x\n")
run(text train --train ${WORK_DIR}/quote.csv --text-col text --label-col label)
expect(1 "quote.csv:2: column 2: expected a closing quote for the field opened on line 2" ERR)
run(text train --train ${WORK_DIR}/train.csv --text-col nosuch --label-col label)
expect(1 "train.csv: no column 'nosuch' (columns: label, size, colour, text)" ERR)
file(WRITE "${WORK_DIR}/junk.model" "not a model")
run(text evaluate --model ${WORK_DIR}/junk.model --test ${WORK_DIR}/train.csv)
expect(1 "frugal: error: ${WORK_DIR}/junk.model" ERR)
file(WRITE "${WORK_DIR}/badrow.csv" "?,5000,red\n")
run(text predict --model ${model} INPUT "${WORK_DIR}/badrow.csv")
expect(1 "<stdin>:1: column 4: expected 4 columns, found 3" ERR)

# Malformed command lines: exit 2 with the usage.
run(text train --train x.csv --text-col a --label-col b --bogus)
expect(2 "frugal text: unknown option '--bogus'" ERR)
run(text train --train x.csv --columns a:target,b:number)
expect(2 "unknown column type 'number'" ERR)
run(text fly)
expect(2 "usage: frugal text train" ERR)
run(text --help)
expect(0 "--last-column-rest" OUT)
