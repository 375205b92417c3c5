# tests/e2e/tests.cmake - training end to end through the samc command line.
#
# Default suite (each well under a minute of CPU on two cores, on subsets):
#   e2e_torch_epoch[_cpu]  samc steps vs PyTorch 1.13 on 100 batches, test accuracy
#   e2e_resume_{interp,cpu} stop after epoch 1 + resume == uninterrupted, bit for bit
#   e2e_resume_bn_{interp,cpu}  the same for a batch_norm model (running statistics)
#   e2e_bn_state_dict      its checkpoint in torch.nn: load_state_dict(strict=True), same eval
#   e2e_export_state_dict  samc export's weights in torch.nn, same eval; its errors
#   e2e_predict            samc predict == the eval program (test accuracy exactly); its errors
#   e2e_periodic_ckpt      checkpoint.every_steps; SIGKILL + resume == uninterrupted
#   e2e_best_ckpt          checkpoint.monitor/mode/keep: the best epochs' files, resumed too
#   e2e_early_stop         early_stopping: the stopping epoch, min/max, resumed across it
#   e2e_val_split          data.val / data.val_split: the documented rows, == the same rows as
#                          files, val.* monitors, SIGINT + resume, a trainer's --set, errors
#   e2e_resume_dropout_*   the same with dropout: the masks resume too
#   e2e_threads            --threads 1, 2, 3 train to the same bits
#   e2e_bad_inputs         broken IDX files, checkpoints, a diverging run: exit 1 + message
#   e2e_data_dir           --data DIR resolves the recipe's relative data paths
#   e2e_cifar_npy          a small model trains from CIFAR-10, CIFAR-100 and .npy files
#   e2e_augment            data.augment: exact resume, other losses, a bad crop refused
#   e2e_cli                help texts, usage errors (exit 2), samc steps file errors
#   e2e_cuda_nogpu         --device cuda without a GPU: exit 1 in under a second, the cause named
#   e2e_first_run          what a new user hits first (metric names, no test set, ...)
#   e2e_interrupt          SIGINT/SIGTERM mid-epoch: checkpoint, exit 130/143, exact resume
#   e2e_deep_chain         50,000 chained ops: every emit stage, interpreter training
#   e2e_curves             log.csv (csv module == JSON lines), curves.png/.svg, samc plot
# With -DSAMC_LONG_TESTS=ON, on the full Fashion-MNIST:
#   e2e_torch_epoch_full[_cpu]  one epoch (468 steps) vs PyTorch: within 1 point, samc >= 83%
#   e2e_train_full_{interp,cpu}  `samc examples/fashion_mlp.lua --epochs 1`: >= 83% in <= 5 min
#   e2e_deep_chain_long    50,000 chained ops also trained on the CPU and built
#
# Debian's torch/numpy import only from /usr/bin/python3; the other scripts
# need only Python's standard library. Exit 77 = skipped.
if(NOT TARGET samc)
  return()
endif()
set(SAMC_E2E_PYTHON /usr/bin/python3 CACHE FILEPATH "Python for the end-to-end tests (torch and numpy for the PyTorch comparison)")
set(_e2e ${CMAKE_CURRENT_LIST_DIR})

# 100 steps reach ~83% on the first 2,000 test images; 1.5 points allows for
# float32 rounding amplified over 100 SAM steps (measured gap: 0.2 points).
add_test(NAME e2e_torch_epoch
         COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/torch_epoch.py --samc $<TARGET_FILE:samc>
                 --train 12800 --steps 100 --test 2000 --tol 1.5 --min-acc 70)
add_test(NAME e2e_torch_epoch_cpu
         COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/torch_epoch.py --samc $<TARGET_FILE:samc>
                 --backend cpu --train 12800 --steps 100 --test 2000 --tol 1.5 --min-acc 70)
set_tests_properties(e2e_torch_epoch e2e_torch_epoch_cpu PROPERTIES SKIP_RETURN_CODE 77
                     TIMEOUT 300 LABELS "e2e;torch")

foreach(_backend interp cpu)
  add_test(NAME e2e_resume_${_backend}
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/resume.py $<TARGET_FILE:samc> --backend ${_backend})
  set_tests_properties(e2e_resume_${_backend} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
endforeach()

# batch_norm's running statistics in the checkpoint, resumed bit for bit;
# the checkpoint loads into torch.nn with load_state_dict(strict=True)
foreach(_backend interp cpu)
  add_test(NAME e2e_resume_bn_${_backend}
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/resume.py $<TARGET_FILE:samc> --backend ${_backend}
                   --model ${_e2e}/models/bn_mlp.lua --limit-train 1280 --limit-test 256
                   --expect-tensor bn1.running_mean --expect-tensor bn1.running_var
                   --expect-tensor bn1.num_batches_tracked)
  set_tests_properties(e2e_resume_bn_${_backend} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       LABELS e2e)
endforeach()
add_test(NAME e2e_bn_state_dict COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/bn_state_dict.py
         $<TARGET_FILE:samc>)
set_tests_properties(e2e_bn_state_dict PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS "e2e;torch")
# checkpoint.every_steps: a run killed with SIGKILL resumes from the last periodic
# checkpoint to the uninterrupted run's tensors, for samc and a built trainer
add_test(NAME e2e_periodic_ckpt COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/periodic_ckpt.py
         $<TARGET_FILE:samc>)
set_tests_properties(e2e_periodic_ckpt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
# checkpoint.monitor/mode/keep: the k best epochs' checkpoints, across a resume too
add_test(NAME e2e_best_ckpt COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/best_ckpt.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_best_ckpt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
# early_stopping.monitor/mode/patience/min_delta: where the run stops, across a resume too
add_test(NAME e2e_early_stop COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/early_stop.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_early_stop PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
# the validation set: data.val files or data.val_split rows, each epoch; the test set at the end
add_test(NAME e2e_val_split COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/val_split.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_val_split PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
# `samc export`: its weights in torch.nn with load_state_dict(strict=True), same eval
add_test(NAME e2e_export_state_dict COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/export_state_dict.py
         $<TARGET_FILE:samc>)
set_tests_properties(e2e_export_state_dict PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS "e2e;torch")
add_test(NAME e2e_predict COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/predict.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_predict PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS "e2e")
# dropout's masks across a stop and resume (a function of seed, step and layer)
foreach(_backend interp cpu)
  add_test(NAME e2e_resume_dropout_${_backend}
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/resume.py $<TARGET_FILE:samc> --backend ${_backend}
                   --model ${_e2e}/models/dropout_mlp.lua --limit-train 1280 --limit-test 256)
  set_tests_properties(e2e_resume_dropout_${_backend} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       LABELS e2e)
endforeach()

add_test(NAME e2e_threads COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/threads.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_threads PROPERTIES TIMEOUT 300 LABELS e2e)

add_test(NAME e2e_bad_inputs COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/bad_inputs.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_bad_inputs PROPERTIES TIMEOUT 300 LABELS e2e)

add_test(NAME e2e_cli COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/cli.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_cli PROPERTIES TIMEOUT 120 LABELS e2e)
add_test(NAME e2e_cuda_nogpu COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/cuda_nogpu.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_cuda_nogpu PROPERTIES TIMEOUT 60 LABELS e2e)
# `samc MODEL --device cuda` through the host stand-in for the driver
# (tests/cuda_standin): the CPU's losses, the PTX cache, CPU -> CUDA -> CPU checkpoints
add_test(NAME e2e_cuda_standin COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/cuda_standin.py
         $<TARGET_FILE:samc> $<TARGET_FILE:samc_cuda_standin>)
set_tests_properties(e2e_cuda_standin PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
# convolutions on the CUDA device as cuDNN calls, through the stand-ins for the
# driver and cuDNN (tests/cudnn_standin): a small conv net's CPU losses, a
# missing cuDNN, a built CUDA trainer
add_test(NAME e2e_cuda_dnn_standin COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/cuda_dnn_standin.py
         $<TARGET_FILE:samc> $<TARGET_FILE:samc_cuda_standin> $<TARGET_FILE:cudnn_standin>)
set_tests_properties(e2e_cuda_dnn_standin PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)

# 50,000 chained ops through every emit stage and the interpreter (about
# 30 s, most of it LLVM on the llvm stage); the CPU backend and `samc build`
# with SAMC_LONG_TESTS
add_test(NAME e2e_deep_chain COMMAND sh ${_e2e}/deep_chain.sh $<TARGET_FILE:samc>)
set_tests_properties(e2e_deep_chain PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)

add_test(NAME e2e_data_dir COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/data_dir.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_data_dir PROPERTIES TIMEOUT 120 LABELS e2e)

add_test(NAME e2e_cifar_npy COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/cifar_npy.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_cifar_npy PROPERTIES TIMEOUT 120 LABELS e2e)

if(SAMC_LONG_TESTS)
  add_test(NAME e2e_torch_epoch_full
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/torch_epoch.py --samc $<TARGET_FILE:samc>
                   --tol 1.0 --min-acc 83)
  add_test(NAME e2e_torch_epoch_full_cpu
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/torch_epoch.py --samc $<TARGET_FILE:samc>
                   --backend cpu --tol 1.0 --min-acc 83)
  set_tests_properties(e2e_torch_epoch_full e2e_torch_epoch_full_cpu PROPERTIES
                       SKIP_RETURN_CODE 77 TIMEOUT 1800 LABELS "e2e;torch;long")
  add_test(NAME e2e_deep_chain_long
           COMMAND sh ${_e2e}/deep_chain.sh $<TARGET_FILE:samc> --long)
  set_tests_properties(e2e_deep_chain_long PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
                       LABELS "e2e;long")
  foreach(_backend interp cpu)
    add_test(NAME e2e_train_full_${_backend}
             COMMAND bash ${_e2e}/train_full.sh $<TARGET_FILE:samc> ${_backend})
    set_tests_properties(e2e_train_full_${_backend} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
                         LABELS "e2e;long")
  endforeach()
endif()

add_test(NAME e2e_augment COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/augment.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_augment PROPERTIES TIMEOUT 300 LABELS e2e)

# What a new user hits first: metric names in the metrics file, no test set,
# an unused input, --version, did-you-mean, the progress line (tty width,
# pipes), --stop-after, CSV label lines
add_test(NAME e2e_first_run COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/first_run.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_first_run PROPERTIES TIMEOUT 120 LABELS e2e)

# SIGINT / SIGTERM in the middle of an epoch: a checkpoint after the step in
# progress, exit 130 / 143, and a resume equal to the uninterrupted run, bit
# for bit, for samc and a built trainer (Fashion-MNIST, about 6 s)
add_test(NAME e2e_interrupt COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/interrupt.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_interrupt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
# The convolutional examples (examples.py): short runs in the default suite;
# fashion_cnn as shipped (3 epochs, >= 91%) with SAMC_LONG_TESTS. A checkpoint
# of fashion_cnn loads into torch.nn with load_state_dict(strict=True) and
# evaluates to samc's test accuracy (cnn_state_dict.py).
foreach(_case fashion_cnn resnet resnet_cifar)
  add_test(NAME e2e_example_${_case}
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/examples.py $<TARGET_FILE:samc> ${_case})
  set_tests_properties(e2e_example_${_case} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       LABELS e2e)
endforeach()
add_test(NAME e2e_cnn_state_dict COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/cnn_state_dict.py
         $<TARGET_FILE:samc>)
set_tests_properties(e2e_cnn_state_dict PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                     LABELS "e2e;torch")
if(SAMC_LONG_TESTS)
  add_test(NAME e2e_example_fashion_cnn_full
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/examples.py $<TARGET_FILE:samc> fashion_cnn --full)
  set_tests_properties(e2e_example_fashion_cnn_full PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 3600
                       LABELS "e2e;long")
endif()
# The logs beside the metrics file: the CSV log (log.csv) against the JSON
# lines, the curves samc draws each epoch (PNG, SVG), `samc plot` over two
# runs and its errors (Fashion-MNIST subsets, about 15 s)
add_test(NAME e2e_curves COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/curves.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_curves PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)

# An EMA of the weights and LookSAM: evaluation, export and predict with the
# EMA, a trainer's --set of ema.decay and looksam.alpha; their state (ema.*,
# opt.*.looksam_gv) resumed bit for bit, the stop in the middle of a k-cycle
add_test(NAME e2e_ema_eval COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/ema_eval.py $<TARGET_FILE:samc>)
set_tests_properties(e2e_ema_eval PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
add_test(NAME e2e_resume_looksam_ema_cpu
         COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/resume.py $<TARGET_FILE:samc> --backend cpu
                 --model ${_e2e}/models/bn_mlp.lua --limit-train 1280 --limit-test 256
                 --set ema.decay=0.9 --set optimizer.sam.looksam.k=3
                 --expect-tensor ema.fc1.weight --expect-tensor opt.fc1.weight.looksam_gv)
set_tests_properties(e2e_resume_looksam_ema_cpu PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                     LABELS e2e)

# RMSprop's buffers (square_avg, grad_avg, momentum_buffer) with clipping and
# optimizer groups under SAM: stop after epoch 1 + resume == uninterrupted
add_test(NAME e2e_resume_optim_extras
         COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/resume.py $<TARGET_FILE:samc>
                 --model ${CMAKE_SOURCE_DIR}/tests/aot/mlp_optim_extras.lua --limit-train 640
                 --expect-tensor opt.fc1.weight.square_avg --expect-tensor opt.fc1.weight.grad_avg
                 --expect-tensor opt.fc2.bias.momentum_buffer)
set_tests_properties(e2e_resume_optim_extras PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS e2e)
# precision = "bf16": one epoch of fashion_cnn in f32 and in bf16 on all of
# Fashion-MNIST, test accuracies within 0.5 points (bf16_epoch.py), with
# SAMC_LONG_TESTS (two epochs of the CNN: minutes)
if(SAMC_LONG_TESTS)
  add_test(NAME e2e_bf16_epoch_cnn
           COMMAND ${SAMC_E2E_PYTHON} ${_e2e}/bf16_epoch.py $<TARGET_FILE:samc>)
  set_tests_properties(e2e_bf16_epoch_cnn PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 3600
                       LABELS "e2e;long")
endif()
