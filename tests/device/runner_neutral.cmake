# runner_neutral.cmake - fails when the step runner (runtime/rt_runner.c)
# or a header it includes reaches for CPU-only code. Run by tests.cmake.
cmake_minimum_required(VERSION 3.15)
# (rt_exec.h carries the host threads as an opaque `struct rt_pool *` for the
# batch fill; the runner never uses them, and cannot without rt_pool.h)
set(forbidden "cblas|openblas|rt_pool_|rt_pool\\.h|pthread|rt_dev_cpu|sysconf|omp_")

# the runner's source and the project headers it includes, transitively
set(queue rt_runner.c)
set(done "")
while(queue)
  list(POP_FRONT queue f)
  if(f IN_LIST done OR NOT EXISTS ${SRC}/${f})
    continue()
  endif()
  list(APPEND done ${f})
  file(READ ${SRC}/${f} text)
  # comments may name the CPU device (the docs do); code may not
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" code "${text}")
  string(REGEX REPLACE "//[^\n]*" "" code "${code}")
  string(REGEX MATCH "${forbidden}" hit "${code}")
  if(hit)
    message(FATAL_ERROR "runtime/${f}: the step runner must stay backend-neutral, "
                        "but this file it includes uses '${hit}'")
  endif()
  string(REGEX MATCHALL "#include \"[^\"]+\"" incs "${code}")
  foreach(i ${incs})
    string(REGEX REPLACE "#include \"([^\"]+)\"" "\\1" h "${i}")
    list(APPEND queue ${h})
  endforeach()
endwhile()
list(LENGTH done n)
if(n LESS 4)
  message(FATAL_ERROR "read only ${done}: is ${SRC} the runtime's directory?")
endif()

# what the compiled runner calls
execute_process(COMMAND ${NM} -u ${OBJ} OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -u ${OBJ} failed")
endif()
string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_.@]*\n" lines "${syms}")
set(allowed calloc malloc free memcpy memmove memset strcmp strlen snprintf __snprintf_chk
            rt_errf rt_device_run_in_order
            __stack_chk_fail _GLOBAL_OFFSET_TABLE_)
foreach(l ${lines})
  string(STRIP "${l}" s)
  string(REGEX REPLACE "@.*" "" s "${s}")
  # a sanitizer build instruments every function with calls into its runtime
  if(s MATCHES "^__(asan|ubsan|lsan|sanitizer)_")
    continue()
  endif()
  if(NOT s IN_LIST allowed)
    message(FATAL_ERROR "the step runner calls '${s}', which is neither the C library "
                        "nor the device layer")
  endif()
endforeach()
message(STATUS "runner_neutral: ${done}; calls only: ${allowed}")
