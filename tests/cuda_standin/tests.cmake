# The host stand-in for the CUDA driver and cuBLAS (standin.c, graphs in
# standin_graph.c, the default stream's pending work in standin_stream.c): the CUDA
# device's tests run through it on machines without a GPU.
add_library(samc_cuda_standin SHARED ${CMAKE_CURRENT_LIST_DIR}/standin.c
            ${CMAKE_CURRENT_LIST_DIR}/standin_graph.c
            ${CMAKE_CURRENT_LIST_DIR}/standin_stream.c)
target_compile_definitions(samc_cuda_standin PRIVATE SAMC_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
target_compile_options(samc_cuda_standin PRIVATE -fvisibility=hidden)
target_link_libraries(samc_cuda_standin PRIVATE openblas ${CMAKE_DL_LIBS})
set(SAMC_CUDA_STANDIN $<TARGET_FILE:samc_cuda_standin>)
# the unit tests that drive the CUDA device through it
foreach(t test_dev_cuda test_dev_cuda_train test_dev_cuda_conv)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE SAMC_CUDA_STANDIN="$<TARGET_FILE:samc_cuda_standin>")
    add_dependencies(${t} samc_cuda_standin)
  endif()
endforeach()
