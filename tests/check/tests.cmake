# tests/check/tests.cmake - end-to-end gradient checks: `samc check` on every
# example model (f64, central differences through the interpreter); a
# model with kinks inside the window (kink.lua).
if(NOT TARGET samc)
  return()
endif()
file(GLOB _check_examples CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/*.lua)
# A small batch keeps each check short (the interpreter computes every
# convolution in f64 loops): fashion_cnn samples fewer coordinates, and the
# default suite checks a ResNet of one block a stage (`--arg blocks=1`);
# SAMC_LONG_TESTS checks the examples as shipped.
set(_check_args_fashion_cnn --set batch_size=8 --samples 12)
set(_check_args_resnet --arg blocks=1 --set batch_size=2 --samples 4)
foreach(_model ${_check_examples})
  get_filename_component(_name ${_model} NAME_WE)
  set(_args --set batch_size=8 --samples 24)
  if(DEFINED _check_args_${_name})
    set(_args ${_check_args_${_name}})
  endif()
  add_test(NAME gradcheck_${_name} COMMAND $<TARGET_FILE:samc> check ${_model} ${_args})
  set_tests_properties(gradcheck_${_name} PROPERTIES TIMEOUT 300)
endforeach()
if(SAMC_LONG_TESTS)
  # fashion_cnn at its batch of 64, ResNet-20 at batch 4 (minutes each)
  add_test(NAME gradcheck_fashion_cnn_full
           COMMAND $<TARGET_FILE:samc> check ${CMAKE_SOURCE_DIR}/examples/fashion_cnn.lua)
  add_test(NAME gradcheck_resnet_full
           COMMAND $<TARGET_FILE:samc> check ${CMAKE_SOURCE_DIR}/examples/resnet.lua
                   --set batch_size=4)
  set_tests_properties(gradcheck_fashion_cnn_full gradcheck_resnet_full PROPERTIES
                       TIMEOUT 1800 LABELS long)
endif()

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
