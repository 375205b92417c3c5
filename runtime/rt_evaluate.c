/*
 * rt_evaluate.c - evaluation over the test split: the eval step returns
 * masked sums per batch; the last batch is padded with zero rows whose mask
 * is 0, and the sums are divided by the number of test examples, so every
 * example counts exactly once whatever the batch size.
 */
#include "rt_train_run.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rt_evaluate_setup(train_run *R, rt_err *err)
{
	const rt_train_opts *o = R->o;
	rt_exec *x = R->eval;
	for (int i = 0; i < x->nslots; i++) {
		const rt_slot *s = &x->slots[i];
		if (rt_dataset_is_data_input(s)) {
			R->eval_batch = s->dim[0];
			break;
		}
	}
	if (R->eval_batch <= 0)
		return rt_errf(err, "the eval step has no data input with a batch dimension");
	if (rt_dataset_load(&R->test, &o->recipe->data, 1, o->data_dir, x, err))
		return -1;
	R->mask_slot = rt_store_find(&R->st, "eval.mask");
	if (R->mask_slot >= 0) {
		const rt_slot *m = &R->st.buf[R->mask_slot].slot;
		if ((m->dtype != RT_F32 && m->dtype != RT_F64) || m->rank != 1 ||
		    m->dim[0] != R->eval_batch)
			return rt_errf(err, "input 'eval.mask' must be F32 or F64 of shape [%" PRId64 "]",
			               R->eval_batch);
	} else if (R->test.n % R->eval_batch != 0) {
		return rt_errf(err, "the test split has %" PRId64 " examples, not a multiple of the eval "
		               "batch %" PRId64 ", and the eval step has no 'eval.mask' input to pad "
		               "with", R->test.n, R->eval_batch);
	}
	R->test_order = malloc((size_t)R->test.n * sizeof *R->test_order);
	if (!R->test_order)
		return rt_errf(err, "out of memory for the test split");
	for (int64_t i = 0; i < R->test.n; i++)
		R->test_order[i] = i;
	if (R->mask_slot >= 0 && !rt_store_host(&R->st, R->mask_slot))
		return rt_errf(err, "out of memory for the eval mask");
	return rt_batch_targets(&R->st, &R->test, &R->dst_test, &R->idx_test, err);
}

int rt_evaluate(train_run *R, double *test, rt_err *err)
{
	for (int m = 0; m < RT_TRAIN_MAX_METRICS; m++)
		test[m] = NAN;
	rt_exec *x = R->eval;
	if (!x)
		return 0;
	double sum[RT_TRAIN_MAX_METRICS] = {0};
	int seen[RT_TRAIN_MAX_METRICS] = {0};
	int64_t nb = rt_dataset_nbatches(R->test.n, R->eval_batch, 0);
	void *mask = R->mask_slot >= 0 ? rt_store_host(&R->st, R->mask_slot) : NULL;
	rt_dtype mdt = R->mask_slot >= 0 ? R->st.buf[R->mask_slot].slot.dtype : RT_F32;
	for (int64_t b = 0; b < nb; b++) {
		rt_dataset_fill(&R->test, R->test_order, b * R->eval_batch, R->eval_batch, RT_PAD_ZERO,
		                R->dst_test, mask, mdt, x->pool);
		rt_err xe;
		if (rt_batch_flush(&R->st, &R->test, R->idx_test, &xe) ||
		    (R->mask_slot >= 0 && rt_store_flush(&R->st, R->mask_slot, &xe)) ||
		    x->run(x, R->bind_eval, R->outs, &xe))
			return rt_errf(err, "evaluation after step %" PRId64 ", batch %" PRId64 ": %s",
			               R->step, b + 1, xe.msg);
		for (int i = 0; i < x->noutputs; i++)
			for (int m = 0; m < R->nm; m++)
				if (strcmp(R->names[m], x->outputs[i]) == 0) {
					sum[m] += R->outs[i];
					seen[m] = 1;
				}
	}
	for (int m = 0; m < R->nm; m++)
		if (seen[m])
			test[m] = sum[m] / (double)R->test.n;
	return 0;
}
