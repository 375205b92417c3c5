/*
 * rt_loop_ranks.c - what the training loop shares between the ranks of a
 * data-parallel run (rt_train_run.h): a step's sums and the stop.
 */
#include "rt_train_run.h"

#include <math.h>
#include <string.h>

/* The step's sums into the epoch's: on several ranks summed over them in
 * one all-reduce that also carries a stop asked for by a signal on any
 * rank, so every rank stops after the same step. *stop: 1 then (and
 * R->signal set), else 0. */
int rt_run_step_sums(train_run *R, double *sum, double *cnt, int64_t *real, int *stop,
                     rt_err *err)
{
	enum { M = RT_TRAIN_MAX_METRICS };
	int sig = rt_run_interrupted(R) ? R->signal : 0;
	*stop = sig != 0;
	if (R->comm->size > 1) {
		double v[2 * M + 3];
		memcpy(v, sum, M * sizeof *sum);
		memcpy(v + M, cnt, M * sizeof *cnt);
		v[2 * M] = (double)*real;
		v[2 * M + 1] = sig == SIGINT;
		v[2 * M + 2] = sig != 0 && sig != SIGINT;
		if (R->comm->allreduce(R->comm, v, 2 * M + 3, RT_COMM_F64, err))
			return -1;
		memcpy(sum, v, M * sizeof *sum);
		memcpy(cnt, v + M, M * sizeof *cnt);
		*real = (int64_t)v[2 * M];
		if (!sig && (v[2 * M + 1] > 0 || v[2 * M + 2] > 0))
			R->signal = v[2 * M + 1] > 0 ? SIGINT : SIGTERM;
		*stop = R->signal != 0;
	}
	for (int m = 0; m < R->nm; m++) {
		if (strcmp(R->names[m], "loss") == 0 && cnt[m] > 0 && !isfinite(sum[m]) &&
		    R->nonfinite_m < 0) {
			R->nonfinite_m = m;
			R->nonfinite_v = sum[m];
		}
		R->esum[m] += sum[m];
		R->ecnt[m] += cnt[m];
	}
	return 0;
}
