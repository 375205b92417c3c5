/*
 * rt_evaluate.c - evaluation over the test split or the validation set
 * (the same way): the eval step returns
 * masked sums per batch; the last batch is padded with zero rows whose mask
 * is 0, and the sums are divided by the number of test examples, so every
 * example counts exactly once whatever the batch size.
 */
#include "rt_train_run.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The examples of a split must fill whole eval batches when the eval step
 * has no mask to pad with. */
static int check_fill(const train_run *R, const rt_dataset *ds, const char *what, rt_err *err)
{
	if (R->mask_slot >= 0 || ds->n % R->eval_batch == 0)
		return 0;
	return rt_errf(err, "the %s has %" PRId64 " examples, not a multiple of the eval "
	               "batch %" PRId64 ", and the eval step has no 'eval.mask' input to pad "
	               "with", what, ds->n, R->eval_batch);
}

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
	if (R->has_test && rt_dataset_load(&R->test, &o->recipe->data, RT_SPLIT_TEST, o->data_dir,
	                                   x, err))
		return -1;
	if (o->recipe->data.nval > 0 &&
	    rt_dataset_load(&R->val, &o->recipe->data, RT_SPLIT_VAL, o->data_dir, x, err))
		return -1;
	R->mask_slot = rt_store_find(&R->st, "eval.mask");
	if (R->mask_slot >= 0) {
		const rt_slot *m = &R->st.buf[R->mask_slot].slot;
		if ((m->dtype != RT_F32 && m->dtype != RT_F64) || m->rank != 1 ||
		    m->dim[0] != R->eval_batch)
			return rt_errf(err, "input 'eval.mask' must be F32 or F64 of shape [%" PRId64 "]",
			               R->eval_batch);
	}
	if (check_fill(R, &R->test, "test split", err) ||
	    check_fill(R, &R->val, "validation set", err))
		return -1;
	int64_t n = R->test.n > R->val.n ? R->test.n : R->val.n;
	R->eval_order = malloc((size_t)(n > 0 ? n : 1) * sizeof *R->eval_order);
	if (!R->eval_order)
		return rt_errf(err, "out of memory for the test split");
	for (int64_t i = 0; i < n; i++)
		R->eval_order[i] = i;
	if (R->mask_slot >= 0 && !rt_store_host(&R->st, R->mask_slot))
		return rt_errf(err, "out of memory for the eval mask");
	if (R->has_test && rt_batch_targets(&R->st, &R->test, &R->dst_test, &R->idx_test, err))
		return -1;
	return R->has_val ? rt_batch_targets(&R->st, &R->val, &R->dst_val, &R->idx_val, err) : 0;
}

int rt_evaluate(train_run *R, int which, double *out, rt_err *err)
{
	for (int m = 0; m < RT_TRAIN_MAX_METRICS; m++)
		out[m] = NAN;
	rt_exec *x = R->eval;
	int val = which == RT_SPLIT_VAL;
	if (!x || !(val ? R->has_val : R->has_test))
		return 0;
	const rt_dataset *ds = val ? &R->val : &R->test;
	void **dst = val ? R->dst_val : R->dst_test;
	const int *idx = val ? R->idx_val : R->idx_test;
	double sum[RT_TRAIN_MAX_METRICS] = {0};
	int seen[RT_TRAIN_MAX_METRICS] = {0};
	int64_t nb = rt_dataset_nbatches(ds->n, R->eval_batch, 0);
	void *mask = R->mask_slot >= 0 ? rt_store_host(&R->st, R->mask_slot) : NULL;
	rt_dtype mdt = R->mask_slot >= 0 ? R->st.buf[R->mask_slot].slot.dtype : RT_F32;
	/* several ranks: rank r takes the batches b with b % ranks == r */
	for (int64_t b = R->comm->rank; b < nb; b += R->comm->size) {
		rt_dataset_fill(ds, R->eval_order, b * R->eval_batch, R->eval_batch, RT_PAD_ZERO, dst,
		                mask, mdt, x->pool);
		rt_err xe;
		if (rt_batch_flush(&R->st, ds, idx, &xe) ||
		    (R->mask_slot >= 0 && rt_store_flush(&R->st, R->mask_slot, &xe)) ||
		    x->run(x, R->bind_eval, R->outs, &xe))
			return rt_errf(err, "%s evaluation after step %" PRId64 ", batch %" PRId64 ": %s",
			               val ? "validation" : "test", R->step, b + 1, xe.msg);
		for (int i = 0; i < x->noutputs; i++)
			for (int m = 0; m < R->nm; m++)
				if (strcmp(R->names[m], x->outputs[i]) == 0) {
					sum[m] += R->outs[i];
					seen[m] = 1;
				}
	}
	if (R->comm->size > 1) { /* the sums and what was seen, over every rank */
		double v[2 * RT_TRAIN_MAX_METRICS];
		for (int m = 0; m < RT_TRAIN_MAX_METRICS; m++) {
			v[m] = sum[m];
			v[RT_TRAIN_MAX_METRICS + m] = seen[m];
		}
		rt_err ce;
		if (R->comm->allreduce(R->comm, v, 2 * RT_TRAIN_MAX_METRICS, RT_COMM_F64, &ce))
			return rt_errf(err, "%s evaluation after step %" PRId64 ": %s",
			               val ? "validation" : "test", R->step, ce.msg);
		for (int m = 0; m < RT_TRAIN_MAX_METRICS; m++) {
			sum[m] = v[m];
			seen[m] = v[RT_TRAIN_MAX_METRICS + m] > 0;
		}
	}
	for (int m = 0; m < R->nm; m++)
		if (seen[m])
			out[m] = sum[m] / (double)ds->n;
	return 0;
}
