# tests/device/tests.cmake - the step runner is backend-neutral: its
# sources name no BLAS, thread pool or CPU device, and its object file calls
# nothing but the C library, rt_errf and the device layer (rt_device.h).
add_library(samc_runner_only OBJECT ${CMAKE_SOURCE_DIR}/runtime/rt_runner.c)
add_test(NAME runner_neutral
         COMMAND ${CMAKE_COMMAND} -DNM=${CMAKE_NM} -DSRC=${CMAKE_SOURCE_DIR}/runtime
                 "-DOBJ=$<TARGET_OBJECTS:samc_runner_only>"
                 -P ${CMAKE_CURRENT_LIST_DIR}/runner_neutral.cmake)
