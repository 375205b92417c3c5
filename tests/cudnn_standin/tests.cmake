# tests/cudnn_standin/tests.cmake - a host stand-in of cuDNN's entry points
# (a shared library over host memory) that test_cuda_dnn opens in place of
# libcudnn.so.9. Built against cuDNN's header when the toolkit has one, so
# its prototypes and rt_cuda_dnn.h's constants are checked against cuDNN's.
add_library(cudnn_standin SHARED ${CMAKE_CURRENT_LIST_DIR}/cudnn_standin.c
                              ${CMAKE_CURRENT_LIST_DIR}/cudnn_standin_run.c)
target_include_directories(cudnn_standin PRIVATE ${CMAKE_SOURCE_DIR}/runtime)
find_path(SAMC_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
if(CUDAToolkit_FOUND AND SAMC_CUDNN_INCLUDE)
  target_include_directories(cudnn_standin PRIVATE ${SAMC_CUDNN_INCLUDE} ${CUDAToolkit_INCLUDE_DIRS})
  target_compile_definitions(cudnn_standin PRIVATE STANDIN_HAVE_CUDNN_H=1)
  # the legacy convolution API is marked deprecated in cuDNN 9
  target_compile_options(cudnn_standin PRIVATE -Wno-deprecated-declarations)
endif()
# the toolkit's own cuDNN, which test_cuda_dnn loads (descriptors need no GPU)
set(SAMC_CUDNN_REAL "")
if(CUDAToolkit_FOUND AND EXISTS ${CUDAToolkit_LIBRARY_DIR}/libcudnn.so.9)
  set(SAMC_CUDNN_REAL ${CUDAToolkit_LIBRARY_DIR}/libcudnn.so.9)
endif()
if(TARGET test_cuda_dnn)
  add_dependencies(test_cuda_dnn cudnn_standin)
  target_compile_definitions(test_cuda_dnn PRIVATE
                             SAMC_CUDNN_STANDIN="$<TARGET_FILE:cudnn_standin>"
                             SAMC_CUDNN_REAL="${SAMC_CUDNN_REAL}")
endif()
# the CUDA device's convolutions through it (with the driver's stand-in)
foreach(t test_dev_cuda_conv test_dev_cuda_bf16)
  if(TARGET ${t})
    add_dependencies(${t} cudnn_standin)
    target_compile_definitions(${t} PRIVATE SAMC_CUDNN_STANDIN="$<TARGET_FILE:cudnn_standin>")
  endif()
endforeach()
