# Fuzz targets (tests/fuzz/fuzz_*.c), one LLVMFuzzerTestOneInput each.
# With SAMC_FUZZ (clang) they link libFuzzer (scripts/fuzz.sh runs them);
# otherwise each is linked with fuzz_replay.c and registered as a CTest
# test that replays its seed corpus, tests/fuzz/corpus/<target>/, once.
set(_fuzz_dir ${CMAKE_CURRENT_LIST_DIR})
set(_fuzz_targets fuzz_model fuzz_safetensors fuzz_ckpt fuzz_idx fuzz_csv fuzz_cifar fuzz_npy
    fuzz_set)
if(SAMC_FUZZ)
  add_custom_target(fuzz_all)
endif()
foreach(name ${_fuzz_targets})
  if(SAMC_FUZZ)
    add_executable(${name} ${_fuzz_dir}/${name}.c)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzz_all ${name})
  else()
    add_executable(${name} ${_fuzz_dir}/${name}.c ${_fuzz_dir}/fuzz_replay.c)
    add_test(NAME ${name}_replay COMMAND ${name} ${_fuzz_dir}/corpus/${name})
  endif()
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  if(name STREQUAL "fuzz_model")
    target_link_libraries(${name} PRIVATE samcfe samccg samcpass samcir samcrt)
  else()
    target_link_libraries(${name} PRIVATE samcrt)
  endif()
endforeach()
