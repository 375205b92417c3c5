# tests/aot/tests.cmake - `samc build` standalone trainers (see run.sh):
# no LLVM/Lua at run time, byte-identical checkpoints against the JIT,
# exact resume, clear errors. Exit 77 = skipped (no data set, no cc).
if(TARGET samc)
  add_test(NAME aot_trainer
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:samc> ${CMAKE_SOURCE_DIR})
  set_tests_properties(aot_trainer PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS aot)
  # batched GEMMs in the written table (a batch count per product)
  add_test(NAME aot_trainer_bmm
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run.sh $<TARGET_FILE:samc> ${CMAKE_SOURCE_DIR}
                   ${CMAKE_CURRENT_LIST_DIR}/bmm_mlp.lua)
  set_tests_properties(aot_trainer_bmm PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS aot)
endif()
if(TARGET samc)
  # samc build --cpu: no AVX-512 in the default trainer, the start-up CPU
  # check, generic against native numbers (cpu.sh)
  add_test(NAME aot_cpu
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/cpu.sh $<TARGET_FILE:samc> ${CMAKE_SOURCE_DIR})
  set_tests_properties(aot_cpu PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS aot)
endif()
if(TARGET samc)
  # SAM's variants in a built trainer: == JIT, --set of their run-time values
  add_test(NAME aot_sam_variants
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/sam_variants.sh $<TARGET_FILE:samc> ${CMAKE_SOURCE_DIR})
  set_tests_properties(aot_sam_variants PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS aot)
  # trainers of a step of micro-batches (accumulate, m-sharpness) against the JIT
  add_test(NAME aot_micro
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/micro.sh $<TARGET_FILE:samc> ${CMAKE_SOURCE_DIR})
  set_tests_properties(aot_micro PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS aot)
endif()
if(TARGET samc)
  # RMSprop, clip_grad_norm, no_decay and optimizer groups: a trainer against
  # the JIT, its --set, refusals and resume (optim_extras.sh)
  add_test(NAME aot_optim_extras
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/optim_extras.sh $<TARGET_FILE:samc> ${CMAKE_SOURCE_DIR})
  set_tests_properties(aot_optim_extras PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS aot)
endif()
