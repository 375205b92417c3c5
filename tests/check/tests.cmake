# tests/check/tests.cmake - end-to-end gradient checks: `samc check` on every
# example model (f64, central differences through the interpreter); a
# model with kinks inside the window (kink.lua).
if(NOT TARGET samc)
  return()
endif()
file(GLOB _check_examples CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*.lua)
foreach(_model ${_check_examples})
  get_filename_component(_name ${_model} NAME_WE)
  # a small batch keeps each check to a fraction of a second
  add_test(NAME gradcheck_${_name}
           COMMAND $<TARGET_FILE:samc> check ${_model} --set batch_size=8 --samples 24)
  set_tests_properties(gradcheck_${_name} PROPERTIES TIMEOUT 120)
endforeach()

# models with batch_norm (a linear bias just before it has a zero gradient)
# and layer_norm
foreach(_model ${CMAKE_SOURCE_DIR}/tests/oracle/models/ln_asam.lua
               ${CMAKE_SOURCE_DIR}/tests/e2e/models/bn_mlp.lua)
  get_filename_component(_name ${_model} NAME_WE)
  add_test(NAME gradcheck_${_name} COMMAND $<TARGET_FILE:samc> check ${_model} --samples 24)
  set_tests_properties(gradcheck_${_name} PROPERTIES TIMEOUT 120)
endforeach()

# relu kinks inside the finite-difference window: those coordinates are
# skipped and said to be, instead of failing (or passing) by chance
add_test(NAME gradcheck_kink COMMAND $<TARGET_FILE:samc> check ${CMAKE_CURRENT_LIST_DIR}/kink.lua
         --samples 8)
set_tests_properties(gradcheck_kink PROPERTIES TIMEOUT 120
                     PASS_REGULAR_EXPRESSION "8 sampled coordinates were skipped: the window"
                     FAIL_REGULAR_EXPRESSION "FAIL")
