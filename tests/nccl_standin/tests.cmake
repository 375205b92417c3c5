# tests/nccl_standin/tests.cmake - a host stand-in for NCCL (nccl_standin.c:
# a shared library over the CUDA driver stand-in's host memory, its ranks
# meeting in a directory) that test_comm_nccl opens in place of
# libnccl.so.2. Built against NCCL's header when the toolkit has one, so its
# prototypes and rt_comm_nccl.h's declarations are checked against NCCL's.
add_library(samc_nccl_standin SHARED ${CMAKE_CURRENT_LIST_DIR}/nccl_standin.c)
target_compile_options(samc_nccl_standin PRIVATE -fvisibility=hidden)
target_link_libraries(samc_nccl_standin PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
find_path(SAMC_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
if(CUDAToolkit_FOUND AND SAMC_NCCL_INCLUDE)
  target_include_directories(samc_nccl_standin PRIVATE ${SAMC_NCCL_INCLUDE}
                             ${CUDAToolkit_INCLUDE_DIRS} ${CMAKE_SOURCE_DIR}/runtime)
  target_compile_definitions(samc_nccl_standin PRIVATE STANDIN_HAVE_NCCL_H=1)
endif()
# the toolkit's own NCCL, which test_nccl_toolkit opens (no GPU needed to
# load it and ask its version)
set(SAMC_NCCL_REAL "")
if(CUDAToolkit_FOUND AND EXISTS ${CUDAToolkit_LIBRARY_DIR}/libnccl.so.2)
  set(SAMC_NCCL_REAL ${CUDAToolkit_LIBRARY_DIR}/libnccl.so.2)
endif()
foreach(t test_comm_nccl test_comm_gpu test_nccl_toolkit test_nccl_gpu)
  if(TARGET ${t})
    add_dependencies(${t} samc_nccl_standin samc_cuda_standin)
    target_compile_definitions(${t} PRIVATE
                               SAMC_NCCL_STANDIN="$<TARGET_FILE:samc_nccl_standin>"
                               SAMC_CUDA_STANDIN="$<TARGET_FILE:samc_cuda_standin>"
                               SAMC_NCCL_REAL="${SAMC_NCCL_REAL}")
  endif()
endforeach()
# the GPU program (run on a GPU by scripts/gpu-check.sh) through the stand-ins
if(TARGET test_nccl_gpu)
  add_test(NAME nccl_gpu_standin COMMAND ${CMAKE_COMMAND} -E env
           SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
           SAMC_NCCL=$<TARGET_FILE:samc_nccl_standin> TMPDIR=${CMAKE_BINARY_DIR}
           $<TARGET_FILE:test_nccl_gpu> --small)
  set_tests_properties(nccl_gpu_standin PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
endif()
# rt_comm_nccl's whole path under mpirun (MPI's bcast of the unique id, the
# local ranks' GPUs, the sums) on 2 and 3 ranks, each with a stand-in GPU
if(MPI_C_FOUND)
  add_executable(nccl_mpi ${CMAKE_CURRENT_LIST_DIR}/nccl_mpi.c)
  target_link_libraries(nccl_mpi PRIVATE samcrt)
  add_dependencies(nccl_mpi samc_nccl_standin samc_cuda_standin)
  set(_nccl_mpi $<TARGET_FILE:nccl_mpi>)
else()
  set(_nccl_mpi nccl_mpi)
endif()
foreach(np 2 3)
  samc_add_mpi_test(nccl_mpi_np${np} ${np} ${_nccl_mpi})
  set_property(TEST nccl_mpi_np${np} APPEND PROPERTY ENVIRONMENT
               SAMC_STANDIN_GPUS=${np} SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
               SAMC_NCCL=$<TARGET_FILE:samc_nccl_standin> TMPDIR=${CMAKE_BINARY_DIR})
endforeach()
