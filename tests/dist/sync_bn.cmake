# tests/dist/sync_bn.cmake - sync_bn = true on 2 ranks (tests/dist/sync_bn.py),
# run under mpirun by tests.cmake's helpers; skipped in a build without MPI.
#
#   dist_sync_bn_{cpu,interp}  2 ranks with sam.sync and sync_bn equal one
#                     process on the global batch (weights, buffers, running
#                     statistics) within 1e-12 (f64) / 1e-6 (f32), SGD and SAM;
#                     cpu: and the trainer of `samc build --ranks 2` = samc's
#                     training loop on 2 ranks, bit for bit (fashion_cnn)
#   dist_sync_bn_cuda_standin  the same in f32 on the CUDA backend through the
#                     host stand-ins (rank_sum staged through the host)
samc_add_mpi_script_test(dist_sync_bn_cpu ${SAMC_ORACLE_PYTHON}
                         ${CMAKE_CURRENT_LIST_DIR}/sync_bn.py --samc $<TARGET_FILE:samc>
                         --backend cpu --trainer)
samc_add_mpi_script_test(dist_sync_bn_interp ${SAMC_ORACLE_PYTHON}
                         ${CMAKE_CURRENT_LIST_DIR}/sync_bn.py --samc $<TARGET_FILE:samc>
                         --backend interp)
samc_add_mpi_script_test(dist_sync_bn_cuda_standin ${CMAKE_COMMAND} -E env
                         SAMC_CUDA_DRIVER=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_BLAS=$<TARGET_FILE:samc_cuda_standin>
                         SAMC_CUDA_DNN=$<TARGET_FILE:cudnn_standin>
                         SAMC_CACHE_DIR=${CMAKE_BINARY_DIR}/oracle_cuda_cache
                         ${SAMC_ORACLE_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/sync_bn.py
                         --samc $<TARGET_FILE:samc> --backend cuda --dtypes f32)
