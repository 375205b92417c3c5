# tests/oracle/tests.cmake - the PyTorch oracle under CTest.
#
# Debian's python3-torch is importable only from /usr/bin/python3 (another
# python3 may come first on PATH). Each script exits 77 when it cannot
# import torch/numpy, which CTest reports as skipped. SAMC_ORACLE_PYTHON
# is set in tests/CMakeLists.txt, before the first folder's tests.
set(_oracle ${CMAKE_CURRENT_LIST_DIR})

# PyTorch's f32 conv2d and its gradients (oneDNN pinned to AVX2), which
# test_rt_conv_torch.c compares rt_conv with bit for bit
add_test(NAME oracle_rt_conv_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/rt_conv_ref.py
         ${CMAKE_BINARY_DIR}/rt_conv_ref)
set_tests_properties(oracle_rt_conv_ref PROPERTIES SKIP_RETURN_CODE 77 FIXTURES_SETUP rt_conv_ref)
set_tests_properties(test_rt_conv_torch PROPERTIES FIXTURES_REQUIRED rt_conv_ref)
if(SAMC_LONG_TESTS)
  # with the two convolutions of examples/fashion_cnn.lua at batch 128
  add_test(NAME oracle_rt_conv_ref_full COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/rt_conv_ref.py --full
           ${CMAKE_BINARY_DIR}/rt_conv_ref_full)
  set_tests_properties(oracle_rt_conv_ref_full PROPERTIES SKIP_RETURN_CODE 77
                       FIXTURES_SETUP rt_conv_ref_full)
  add_test(NAME test_rt_conv_torch_full COMMAND test_rt_conv_torch)
  set_tests_properties(test_rt_conv_torch_full PROPERTIES SKIP_RETURN_CODE 77
                       FIXTURES_REQUIRED rt_conv_ref_full
                       ENVIRONMENT SAMC_RT_CONV_REF_DIR=${CMAKE_BINARY_DIR}/rt_conv_ref_full)
endif()

add_test(NAME oracle_st_roundtrip COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/test_st.py)
add_test(NAME oracle_torch_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/test_torch_ref.py)
# philox.py against Random123's known answers
add_test(NAME oracle_philox COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/philox.py)
# the table test_elem_torch.c checks the interpreter against is PyTorch's
add_test(NAME oracle_elem_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/elem_ref.py --check
         ${_oracle}/../unit/test_elem_torch_ref.h)
set_tests_properties(oracle_st_roundtrip oracle_torch_ref oracle_elem_ref oracle_philox PROPERTIES SKIP_RETURN_CODE 77)
# the table test_slice_torch.c checks narrow, cat and flatten against
add_test(NAME oracle_slice_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/slice_ref.py --check
         ${_oracle}/../unit/test_slice_torch_ref.h)
set_tests_properties(oracle_slice_ref PROPERTIES SKIP_RETURN_CODE 77)
# the table test_pool_torch.c checks the pooling ops against
add_test(NAME oracle_pool_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/pool_ref.py --check
         ${_oracle}/../unit/test_pool_torch_ref.h)
set_tests_properties(oracle_pool_ref PROPERTIES SKIP_RETURN_CODE 77)
# the table test_conv_torch.c checks conv2d against
add_test(NAME oracle_conv_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/conv_ref.py --check
         ${_oracle}/../unit/test_conv_torch_ref.h)
set_tests_properties(oracle_conv_ref PROPERTIES SKIP_RETURN_CODE 77)
# the table test_norm_torch.c checks batch_norm and layer_norm against
add_test(NAME oracle_norm_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/norm_ref.py --check
         ${_oracle}/../unit/test_norm_torch_ref.h)
set_tests_properties(oracle_norm_ref PROPERTIES SKIP_RETURN_CODE 77)

# One test per model file and dtype: `samc steps` for K = 10 against PyTorch,
# on the reference interpreter (the definition of the IR).
# (Registered once the samc executable exists in this tree.)
if(NOT TARGET samc)
  return()
endif()
file(GLOB _oracle_models CONFIGURE_DEPENDS ${_oracle}/models/*.lua)
foreach(_model ${_oracle_models})
  get_filename_component(_case ${_model} NAME_WE)
  foreach(_dt f32 f64)
    add_test(NAME oracle_${_case}_${_dt}
             COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                     --backend interp --dtype ${_dt} --steps 10 ${_model})
    set_tests_properties(oracle_${_case}_${_dt} PROPERTIES SKIP_RETURN_CODE 77 LABELS oracle
                         TIMEOUT 300)
  endforeach()
endforeach()

# Every model through each compiled backend (skipped while samc lacks it).
foreach(_backend cpu)
  foreach(_dt f32 f64)
    add_test(NAME oracle_${_backend}_${_dt}
             COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                     --backend ${_backend} --dtype ${_dt} --steps 10)
    set_tests_properties(oracle_${_backend}_${_dt} PROPERTIES SKIP_RETURN_CODE 77 LABELS oracle
                         TIMEOUT 600)
  endforeach()
endforeach()
# the table test_embed_torch.c checks embedding against
add_test(NAME oracle_embed_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/embed_ref.py --check
         ${_oracle}/../unit/test_embed_torch_ref.h)
set_tests_properties(oracle_embed_ref PROPERTIES SKIP_RETURN_CODE 77)
# the table test_losses.c checks nll_loss and bce_with_logits against is PyTorch's
add_test(NAME oracle_loss_ref COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/loss_ref.py --check
         ${_oracle}/../unit/test_loss_torch_ref.h)
set_tests_properties(oracle_loss_ref PROPERTIES SKIP_RETURN_CODE 77)

# the oracle on `samc steps --backend cuda` through the host stand-ins for the
# driver (tests/cuda_standin) and cuDNN (tests/cudnn_standin): the conv net
# with batch norm, f32 (its convolutions cuDNN calls, which check_runs.py
# sees) and f64 (generated kernels)
add_test(NAME oracle_cuda_standin
         COMMAND ${CMAKE_COMMAND} -E env SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                 SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                 ${SAMC_ORACLE_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cudnn_standin/check_runs.py
                 ${CMAKE_BINARY_DIR}/oracle_cuda_cudnn_runs.txt
                 ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                 --backend cuda ${_oracle}/models/convnet_bn_sam.lua)
set_tests_properties(oracle_cuda_standin PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS "oracle;torch")

# SAM's variants through the same stand-ins: GSAM on an ASAM ascent with
# eta and rho following the lr (the conv net), ASAM on *.weight only with a
# step rho schedule (the MLP)
add_test(NAME oracle_cuda_standin_sam_variants
         COMMAND ${CMAKE_COMMAND} -E env SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                 SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                 ${SAMC_ORACLE_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cudnn_standin/check_runs.py
                 ${CMAKE_BINARY_DIR}/oracle_cuda_sam_variants_runs.txt
                 ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                 --backend cuda ${_oracle}/models/convnet_bn_gsam.lua
                 ${_oracle}/models/mlp_asam_eta.lua)
set_tests_properties(oracle_cuda_standin_sam_variants PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS "oracle;torch")

# LookSAM and the EMA of the weights through the CUDA backend's host
# stand-ins: the BatchNorm conv net's two training programs, g_v as state
# and the eval program reading the EMA, f32 (cuDNN's stand-in) and f64
add_test(NAME oracle_cuda_standin_looksam_ema
         COMMAND ${CMAKE_COMMAND} -E env SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                 SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                 ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                 --backend cuda ${_oracle}/models/convnet_bn_looksam_ema.lua)
set_tests_properties(oracle_cuda_standin_looksam_ema PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS "oracle;torch")

# optimizer.clip_grad_norm, no_decay, groups and RMSprop through the same
# stand-ins: the conv net with batch norm under SAM around RMSprop, the MLP
# with AdamW's groups and the MLP's clipped SAM step
add_test(NAME oracle_cuda_standin_optim_extras
         COMMAND ${CMAKE_COMMAND} -E env SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                 SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                 ${SAMC_ORACLE_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cudnn_standin/check_runs.py
                 ${CMAKE_BINARY_DIR}/oracle_cuda_optim_extras_runs.txt
                 ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                 --backend cuda ${_oracle}/models/convnet_bn_rmsprop.lua
                 ${_oracle}/models/groups.lua ${_oracle}/models/clip_sam.lua)
set_tests_properties(oracle_cuda_standin_optim_extras PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS "oracle;torch")

# optimizer.accumulate = K over micro-batches of B/K equals one step on B
# (f64, 1e-12; SGD, SAM, ASAM without BatchNorm), on the interpreter and the
# CPU backend; and micro-batches through `samc steps --backend cuda` on the
# host stand-ins: the conv net with accumulation of its SAM step, the MLP
# with m-sharpness of ASAM
foreach(_backend interp cpu)
  add_test(NAME oracle_accum_equiv_${_backend}
           COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/accum_equiv.py --samc $<TARGET_FILE:samc>
                   --backend ${_backend})
  set_tests_properties(oracle_accum_equiv_${_backend} PROPERTIES SKIP_RETURN_CODE 77
                       LABELS oracle TIMEOUT 300)
endforeach()
add_test(NAME oracle_cuda_standin_micro
         COMMAND ${CMAKE_COMMAND} -E env SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                 SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                 ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                 --backend cuda ${_oracle}/models/convnet_bn_accum.lua
                 ${_oracle}/models/msharp_asam.lua)
set_tests_properties(oracle_cuda_standin_micro PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS "oracle;torch")

# precision = "bf16" (models_bf16/, f32 master weights only): each model
# against torch.autocast's training on the interpreter, the CPU backend and
# the CUDA backend through the host stand-ins (its GEMMs and convolutions
# as bf16 library calls), at ref_bf16.TOL
file(GLOB _oracle_bf16_models CONFIGURE_DEPENDS ${_oracle}/models_bf16/*.lua)
foreach(_model ${_oracle_bf16_models})
  get_filename_component(_case ${_model} NAME_WE)
  foreach(_backend interp cpu)
    add_test(NAME oracle_${_case}_${_backend}
             COMMAND ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                     --backend ${_backend} --dtype f32 --steps 10 ${_model})
    set_tests_properties(oracle_${_case}_${_backend} PROPERTIES SKIP_RETURN_CODE 77
                         LABELS oracle TIMEOUT 300)
  endforeach()
  # check_runs.py --bf16: the GEMMs (cublasGemmEx) and the convolutions
  # (cuDNN's bf16 configuration) ran as bf16 through the stand-ins
  add_test(NAME oracle_${_case}_cuda_standin
           COMMAND ${CMAKE_COMMAND} -E env SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                   SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                   SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                   SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                   ${SAMC_ORACLE_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cudnn_standin/check_runs.py
                   --bf16 ${CMAKE_BINARY_DIR}/oracle_${_case}_cuda_runs.txt
                   ${SAMC_ORACLE_PYTHON} ${_oracle}/oracle.py --samc $<TARGET_FILE:samc>
                   --backend cuda --dtype f32 --steps 10 ${_model})
  set_tests_properties(oracle_${_case}_cuda_standin PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       LABELS "oracle;torch")
endforeach()

# the oracle where samc cannot run (scripts/gpu-check.sh on a GPU machine):
# cases and PyTorch's answers written, the model built as a CUDA trainer
# that takes `samc steps`'s command line (aot_steps.c), checked through the
# host stand-ins, its GEMMs bf16 calls (check_runs.py --bf16)
add_test(NAME oracle_aot_steps_bf16_cuda_standin
         COMMAND ${CMAKE_COMMAND} -E env SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                 SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                 SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                 ${SAMC_ORACLE_PYTHON} ${CMAKE_SOURCE_DIR}/tests/cudnn_standin/check_runs.py
                 --bf16 ${CMAKE_BINARY_DIR}/oracle_aot_steps_runs.txt
                 ${SAMC_ORACLE_PYTHON} ${_oracle}/aot_oracle.py all
                 ${CMAKE_BINARY_DIR}/oracle_aot_steps --samc $<TARGET_FILE:samc>
                 ${_oracle}/models_bf16/mlp_sam_bf16.lua)
set_tests_properties(oracle_aot_steps_bf16_cuda_standin PROPERTIES SKIP_RETURN_CODE 77
                     TIMEOUT 300 LABELS "oracle;torch")
