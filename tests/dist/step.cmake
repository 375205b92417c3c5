# tests/dist/step.cmake - training on 2 ranks (runtime/rt_step_seq.h), run
# under mpirun by tests.cmake's helpers; skipped in a build without MPI.
#
#   dist_step_equiv   samc steps on 2 ranks against one process: the global
#                     batch (sam.sync, SGD) within 1e-12 / 1e-6, and bit for
#                     bit one process with accumulate = 2 or sam.m = 2 (SGD,
#                     SAM, ASAM, GSAM); BatchNorm's statistics rank 0's
#   dist_step_equiv_cuda_standin  the same (SAM, sync and per replica, f32)
#                     on the CUDA backend through the host stand-ins: the
#                     accumulators staged through the host
#   dist_overlap      the accumulators' all-reduce during the backward pass
#                     (allreduce_overlap) bit for bit the one after it: SGD,
#                     SAM sync and per replica, f64 and f32, bucket sizes;
#                     a trainer built for 2 ranks, the same checkpoint
#   dist_overlap_nccl_standin  the same on cuda with NCCL (stand-ins): the
#                     buckets on the device's side stream
#   dist_train        samc model.lua on 2 ranks: rank 0 alone writes, a
#                     checkpoint of 2 ranks resumes on 2 bit for bit and on 1
#                     within float tolerance, a killed rank, the errors
samc_add_mpi_script_test(dist_step_equiv ${SAMC_ORACLE_PYTHON}
                         ${CMAKE_CURRENT_LIST_DIR}/step_equiv.py --samc $<TARGET_FILE:samc>)
samc_add_mpi_script_test(dist_train ${SAMC_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/train.py
                         --samc $<TARGET_FILE:samc>)
samc_add_mpi_script_test(dist_step_equiv_cuda_standin ${CMAKE_COMMAND} -E env
                         SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                         SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                         ${SAMC_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/step_equiv.py
                         --samc $<TARGET_FILE:samc> --backend cuda --steps 5 --quick)
# dist_nccl_steps: samc steps --device cuda on 2 ranks with NCCL through the
# host stand-ins (one ncclAllReduce per accumulator kind a step) against the
# cpu backend on 2 ranks, SAMC_NCCL=0 / missing / unset, and --eval sharded
# over 2 ranks against one process
samc_add_mpi_script_test(dist_nccl_steps ${CMAKE_COMMAND} -E env
                         SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                         SAMC_NCCL_LIB=$<TARGET_FILE:samc_nccl_standin>
                         SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                         ${SAMC_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/nccl_steps.py
                         --samc $<TARGET_FILE:samc>)
# dist_nccl_train: samc model.lua --device cuda and a trainer built with
# --ranks 2 --device cuda, on 2 ranks with NCCL through the host stand-ins,
# against the cpu backend on 2 ranks
samc_add_mpi_script_test(dist_nccl_train ${CMAKE_COMMAND} -E env
                         SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_NCCL_LIB=$<TARGET_FILE:samc_nccl_standin>
                         SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                         ${SAMC_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/nccl_train.py
                         --samc $<TARGET_FILE:samc>)
samc_add_mpi_script_test(dist_overlap ${SAMC_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/overlap.py
                         --samc $<TARGET_FILE:samc>)
# dist_overlap_nccl_standin: the same on the CUDA backend with NCCL through
# the host stand-ins: the buckets on the device's side stream
samc_add_mpi_script_test(dist_overlap_nccl_standin ${CMAKE_COMMAND} -E env
                         SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                         SAMC_NCCL_LIB=$<TARGET_FILE:samc_nccl_standin>
                         SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                         ${SAMC_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/overlap.py
                         --samc $<TARGET_FILE:samc> --cuda)
