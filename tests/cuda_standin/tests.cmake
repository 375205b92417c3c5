# The host stand-in for the CUDA driver and cuBLAS (standin.c, graphs in
# standin_graph.c, the default stream's pending work in standin_stream.c): the CUDA
# device's tests run through it on machines without a GPU.
add_library(samc_cuda_standin SHARED ${CMAKE_CURRENT_LIST_DIR}/standin.c
            ${CMAKE_CURRENT_LIST_DIR}/standin_graph.c
            ${CMAKE_CURRENT_LIST_DIR}/standin_stream.c)
target_compile_definitions(samc_cuda_standin PRIVATE SAMC_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
target_compile_options(samc_cuda_standin PRIVATE -fvisibility=hidden)
target_link_libraries(samc_cuda_standin PRIVATE openblas ${CMAKE_DL_LIBS})
# its cuBLAS (standin_blas.c), and with cuBLAS's header, when the toolkit
# has one, rt_cuda_blas.h's constants checked against it
target_sources(samc_cuda_standin PRIVATE ${CMAKE_CURRENT_LIST_DIR}/standin_blas.c)
find_path(SAMC_CUBLAS_INCLUDE cublas_api.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
if(CUDAToolkit_FOUND AND SAMC_CUBLAS_INCLUDE)
  target_sources(samc_cuda_standin PRIVATE ${CMAKE_CURRENT_LIST_DIR}/standin_blas_abi.c)
  target_include_directories(samc_cuda_standin PRIVATE ${SAMC_CUBLAS_INCLUDE}
                             ${CUDAToolkit_INCLUDE_DIRS} ${CMAKE_SOURCE_DIR}/runtime)
endif()
set(SAMC_CUDA_STANDIN $<TARGET_FILE:samc_cuda_standin>)
# the unit tests that drive the CUDA device through it
foreach(t test_dev_cuda test_dev_cuda_train test_dev_cuda_conv test_dev_cuda_bf16)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE SAMC_CUDA_STANDIN="$<TARGET_FILE:samc_cuda_standin>")
    add_dependencies(${t} samc_cuda_standin)
  endif()
endforeach()
