# The bad-input corpus: one CTest test runs samc on every model in
# tests/bad_inputs and checks the exit status, the message and the time.
if(TARGET samc)
  add_test(NAME bad_inputs
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:samc>
                   ${CMAKE_CURRENT_LIST_DIR})
endif()
