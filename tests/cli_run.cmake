# run(<frugal arguments...>): runs ${FRUGAL} with them, fails the test with
# the command line and both streams unless it exits 0; sets OUT to its stdout.
function(run)
  execute_process(COMMAND ${FRUGAL} ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " args)
    message(FATAL_ERROR "frugal ${args}: exit ${rc}\n${out}\n${err}")
  endif()
  set(OUT "${out}" PARENT_SCOPE)
endfunction()
