/*
 * cli_backend.h - compiled programs to runnable steps: one place that maps
 * a backend name ("interp", "cpu") to the rt_exec that runs a program.
 */
#ifndef SAMC_CLI_BACKEND_H
#define SAMC_CLI_BACKEND_H

#include "pass_pipeline.h"
#include "pass_table.h"
#include "rt_comm_nccl.h"
#include "rt_exec.h"

/* The backends this build has, for messages: "interp, cpu". */
const char *cli_backend_names(void);

/* 0 if `name` is a backend of this build, else -1. */
int cli_backend_check(const char *name);

/* Whether `name` is the CUDA device ("cuda"), whose driver callers probe
 * before any compile work. */
int cli_backend_is_cuda(const char *name);

/* Opens the CUDA driver (rt_cuda_drv.h; SAMC_CUDA_DRIVER names another
 * library): 0 with the GPU in err ("NVIDIA H200 (sm_90, driver 13.0)"),
 * or -1 with why samc cannot train on it (no driver, the stub, no device,
 * an old driver). */
int cli_backend_cuda_probe(char *err, size_t errlen);

/* An exec for the program; the program must outlive it. po: the backend
 * passes' options (cli_pass_options). NULL with err. */
rt_exec *cli_exec_new(const char *backend, pass_program *p, int threads, const pass_options *po,
                      char *err, size_t errlen);

/* The pass table's options for this run: SAMC_DEBUG from the environment
 * (levels in passes/pass_table.h), read here and nowhere deeper. */
void cli_pass_options(pass_options *o);

/* cli_exec_new on GPU `ordinal` of the machine (the CUDA backend; the
 * others have none and ignore it). */
rt_exec *cli_exec_new_gpu(const char *backend, pass_program *p, int threads,
                          const pass_options *po, int ordinal, char *err, size_t errlen);

/* Several ranks on the CUDA backend: this rank's GPU and NCCL for the
 * sums (rt_comm_gpu_open with $SAMC_CUDA_DRIVER and $SAMC_NCCL); rank 0
 * prints why the sums go through the host, if they do, on stderr. Any
 * other backend or one rank: GPU 0, nothing printed. Collective; 0, or -1
 * with err. Close it with rt_comm_gpu_close before the execs are freed. */
int cli_gpu_open(const char *backend, rt_comm *c, rt_comm_gpu *g, char *err, size_t errlen);

void cli_exec_free(rt_exec *x);

#endif
