# tests/dist/tests.cmake - data-parallel runs under an MPI launcher.
#
# samc_add_mpi_test(NAME NP COMMAND...) registers
#   mpirun -np NP ${SAMC_MPIRUN_FLAGS} COMMAND...
# and samc_add_mpi_script_test(NAME COMMAND...) a script that starts mpirun
# itself: it finds the launcher with its flags (no -np) in the environment
# variable SAMC_MPIRUN. Both report skipped (77), never passed, in a build
# without MPI.
#
# SAMC_MPIRUN_FLAGS holds every flag a launch needs, in this one place:
#   --allow-run-as-root  Open MPI refuses root without it (containers run
#                        as root; OMPI_ALLOW_RUN_AS_ROOT=1 with
#                        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 does the same)
#   --oversubscribe      more ranks than cores (3 ranks on 2 cores)
#   --bind-to none       two tests at once (ctest -j) do not pin their
#                        ranks to the same cores
# A container without ptrace rights breaks Open MPI's shared-memory single
# copy (CMA: "Read of ... bytes from remote process failed"); add
# --mca btl_vader_single_copy_mechanism none there. Containers here have
# the rights: the tests run without it (it halves the bandwidth).
#
# Tests (each a few seconds):
#   dist_comm_np{1,2,3}     comm_mpi collectives: allreduce bits == the
#                           rank-order sum, bcast, allgather, agree, counters
#   dist_comm_timeout_np{2,3}  a silent rank: the others fail after
#                           SAMC_DIST_TIMEOUT=1 s naming it, exit 1
#   dist_comm_kill_np{2,3}  a rank SIGKILLed mid-allreduce: the survivors
#                           print the cause and exit 1 before mpirun's SIGKILL
#   dist_comm_signal_np{2,3}  every rank got SIGTERM and answers: the
#                           collectives complete (a run stops after its step)
#   dist_comm_foreign_launcher  a launcher of 2 whose MPI sees 1: refused
set(SAMC_MPIRUN_FLAGS --allow-run-as-root --oversubscribe --bind-to none
    CACHE STRING "mpirun's flags for the MPI tests (tests/dist/tests.cmake)")

function(samc_add_mpi_test name np)
  if(MPI_C_FOUND AND MPIEXEC_EXECUTABLE)
    add_test(NAME ${name} COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np}
             ${SAMC_MPIRUN_FLAGS} ${ARGN})
  else()
    add_test(NAME ${name} COMMAND sh -c "echo '${name}: skipped: samc was built without MPI'; exit 77")
  endif()
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120 LABELS dist)
  _samc_mpi_env(${name})
endfunction()

function(samc_add_mpi_script_test name)
  if(MPI_C_FOUND AND MPIEXEC_EXECUTABLE)
    add_test(NAME ${name} COMMAND ${ARGN})
    string(JOIN " " _launcher ${MPIEXEC_EXECUTABLE} ${SAMC_MPIRUN_FLAGS})
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT "SAMC_MPIRUN=${_launcher}")
  else()
    add_test(NAME ${name} COMMAND sh -c "echo '${name}: skipped: samc was built without MPI'; exit 77")
  endif()
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS dist)
  _samc_mpi_env(${name})
endfunction()

# Open MPI's allocations outlive MPI_Finalize, in components it has unloaded
# by then (LeakSanitizer sees "<unknown module>", which no suppression can
# name): a sanitizer build checks these tests' memory accesses, not leaks.
function(_samc_mpi_env name)
  if(SAMC_SANITIZE)
    set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0")
  endif()
endfunction()

if(MPI_C_FOUND)
  add_executable(comm_mpi ${CMAKE_CURRENT_LIST_DIR}/comm_mpi.c)
  target_link_libraries(comm_mpi PRIVATE samcrt)
  set(_comm_mpi $<TARGET_FILE:comm_mpi>)
else()
  set(_comm_mpi comm_mpi)
endif()
# another MPI's launcher (here: PMI_SIZE=2 without one) is refused, exit 1
if(MPI_C_FOUND)
  add_test(NAME dist_comm_foreign_launcher
           COMMAND sh -c "out=$(PMI_SIZE=2 \"$0\" collectives 2>&1); rc=$?; echo \"$out\"; [ $rc -eq 1 ] && echo \"$out\" | grep -q 'the launcher started 2 processes, but MPI sees 1'"
                   ${_comm_mpi})
  set_tests_properties(dist_comm_foreign_launcher PROPERTIES TIMEOUT 60 LABELS dist)
  _samc_mpi_env(dist_comm_foreign_launcher)
endif()
foreach(np 1 2 3)
  samc_add_mpi_test(dist_comm_np${np} ${np} ${_comm_mpi} collectives)
endforeach()
foreach(np 2 3)
  samc_add_mpi_test(dist_comm_signal_np${np} ${np} ${_comm_mpi} signal)
  foreach(mode timeout kill)
    samc_add_mpi_script_test(dist_comm_${mode}_np${np}
                             sh ${CMAKE_CURRENT_LIST_DIR}/fail.sh ${mode} ${np} ${_comm_mpi})
  endforeach()
endforeach()

# Training on several ranks (the step, the loop, checkpoints): step.cmake
include(${CMAKE_CURRENT_LIST_DIR}/step.cmake)

# sync_bn = true: BatchNorm's statistics over the ranks (sync_bn.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/sync_bn.cmake)
