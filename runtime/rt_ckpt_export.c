/*
 * rt_ckpt_export.c - a checkpoint as PyTorch weights (see rt_ckpt.h):
 * the model's parameters and buffers under their state_dict names, no
 * optimizer state, no run metadata.
 */
#include "rt_ckpt.h"
#include "rt_recipe.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "rt_safetensors.h"

/* torch.nn.BatchNorm keeps its counter as int64; samc keeps it in the
 * float dtype of the program. */
static int is_batch_counter(const rt_tensor *t)
{
	const char *suffix = "num_batches_tracked";
	size_t n = strlen(t->name), k = strlen(suffix);
	return t->rank == 0 && n >= k && strcmp(t->name + n - k, suffix) == 0 &&
	       (n == k || t->name[n - k - 1] == '.') && (t->dtype == RT_F32 || t->dtype == RT_F64);
}

int rt_ckpt_export(const char *in, const char *out, int *ntensors, rt_err *err)
{
	rt_tensors ts = {0}, w = {0};
	rt_meta meta = {0}, wmeta = {0};
	int rc = -1;
	if (rt_st_read(in, &ts, &meta, err))
		return -1;
	const char *fmt = rt_meta_get(&meta, "format");
	const char *ver = rt_meta_get(&meta, "format_version");
	const char *sum = rt_meta_get(&meta, "checksum");
	if (!fmt || strcmp(fmt, "samc-ckpt") != 0) {
		rt_errf(err, "%s: not a samc checkpoint (no \"format\": \"samc-ckpt\" in its metadata)",
		        in);
		goto out;
	}
	if (!ver || strcmp(ver, "1") != 0) {
		rt_errf(err, "%s: checkpoint format version %s is not supported (expected %d)", in,
		        ver ? ver : "(missing)", RT_CKPT_VERSION);
		goto out;
	}
	char want[64];
	snprintf(want, sizeof want, "fnv1a64:%016" PRIx64, rt_ckpt_checksum(&ts));
	if (!sum || strcmp(sum, want) != 0) {
		rt_errf(err, "%s: corrupted (checksum mismatch: recorded %s, computed %s)", in,
		        sum ? sum : "(none)", want);
		goto out;
	}
	for (int i = 0; i < ts.n; i++) {
		const rt_tensor *t = &ts.t[i];
		if (strncmp(t->name, "opt.", 4) == 0)
			continue; /* optimizer state: not part of a state_dict */
		size_t np = strlen(RT_EMA_PREFIX);
		if (strncmp(t->name, RT_EMA_PREFIX, np) == 0 && rt_tensors_find(&ts, t->name + np))
			continue; /* the EMA of a parameter: written under the parameter's name */
		/* a parameter with an EMA is exported as its EMA */
		char ema[512];
		snprintf(ema, sizeof ema, RT_EMA_PREFIX "%s", t->name);
		const rt_tensor *e = rt_tensors_find(&ts, ema);
		if (e && e->dtype == t->dtype && rt_tensor_numel(e) == rt_tensor_numel(t))
			t = e;
		int counter = is_batch_counter(t);
		rt_tensor *o = rt_tensors_add(&w, ts.t[i].name, counter ? RT_I64 : t->dtype, t->rank, t->dim);
		if (!o) {
			rt_errf(err, "%s: out of memory for tensor '%s'", out, t->name);
			goto out;
		}
		if (counter)
			rt_tensor_set(o, 0, rt_tensor_get(t, 0));
		else
			memcpy(o->data, t->data, rt_tensor_bytes(t));
	}
	if (w.n == 0) {
		rt_errf(err, "%s: the checkpoint holds no parameters", in);
		goto out;
	}
	/* the note the safetensors library writes for PyTorch weights */
	rt_meta_set(&wmeta, "format", "pt");
	if (wmeta.n != 1) {
		rt_errf(err, "%s: out of memory for the metadata", out);
		goto out;
	}
	if (rt_st_write(out, &w, &wmeta, err))
		goto out;
	if (ntensors)
		*ntensors = w.n;
	rc = 0;
out:
	rt_tensors_free(&ts);
	rt_tensors_free(&w);
	rt_meta_free(&meta);
	rt_meta_free(&wmeta);
	return rc;
}
