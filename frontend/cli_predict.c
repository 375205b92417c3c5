/*
 * cli_predict.c - `samc predict model.lua --weights W -o OUT`: the model's
 * eval program (the one training evaluates with) on a data file, with the
 * weights of a samc checkpoint or a `samc export` file; writes the logits
 * of the loss's cross_entropy and the predicted classes (first maximum).
 */
#include "cli.h"
#include "cli_backend.h"
#include "pass_pipeline.h"
#include "rt_data.h"
#include "rt_safetensors.h"
#include "rt_train_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREDICT_MAX_DATA 4

typedef struct {
	const char *weights, *out, *format, *backend;
	const char *data[PREDICT_MAX_DATA]; /* "input=path" or "path" */
	int ndata, quiet;
} predict_args;

/* Parameters and state (batch_norm's running statistics) of the eval
 * program from the weights file, by name; another model's file is named
 * by its first missing tensor or first shape that differs. */
static int load_weights(const char *path, rt_store *st, rt_err *err)
{
	rt_tensors ts = {0};
	if (rt_st_read(path, &ts, NULL, err) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < st->n && rc == 0; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if ((s->role != RT_SLOT_PARAM && s->role != RT_SLOT_STATE) ||
		    strcmp(s->name, PASS_STATE_LOGITS) == 0)
			continue;
		char a[64], b[64];
		rt_shape_str(b, sizeof b, s->rank, s->dim);
		/* a checkpoint with an EMA of the weights predicts with it */
		char ema[512];
		snprintf(ema, sizeof ema, RT_EMA_PREFIX "%s", s->name);
		const rt_tensor *t = s->role == RT_SLOT_PARAM ? rt_tensors_find(&ts, ema) : NULL;
		if (!t)
			t = rt_tensors_find(&ts, s->name);
		if (!t) {
			rc = rt_errf(err, "%s: no tensor '%s' %s: these are not the weights of this model",
			             path, s->name, b);
			break;
		}
		int same = t->rank == s->rank;
		for (int d = 0; same && d < s->rank; d++)
			same = t->dim[d] == s->dim[d];
		if (!same) {
			rt_shape_str(a, sizeof a, t->rank, t->dim);
			rc = rt_errf(err, "%s: tensor '%s' has shape %s, the model's is %s: these are not "
			             "the weights of this model", path, s->name, a, b);
			break;
		}
		void *h = rt_store_host(st, i);
		if (!h) {
			rc = rt_errf(err, "out of memory for '%s'", s->name);
			break;
		}
		rt_tensor view = {.name = (char *)s->name, .dtype = s->dtype, .rank = s->rank, .data = h};
		memcpy(view.dim, s->dim, sizeof view.dim);
		for (int64_t j = 0; j < rt_tensor_numel(t); j++)
			rt_tensor_set(&view, j, rt_tensor_get(t, j));
		rc = rt_store_flush(st, i, err);
	}
	rt_tensors_free(&ts);
	return rc;
}

/* The split to predict on: the recipe's test split, or the --data files
 * (one file for every data input, or input=path each). */
static int data_split(const predict_args *pa, const rt_exec *x, data_config *dc, rt_err *err)
{
	if (pa->format)
		dc->format = pa->format;
	if (pa->ndata == 0)
		return 0;
	dc->ntest = 0;
	dc->limit_test = 0;
	dc->base_dir = NULL; /* paths on the command line are the caller's */
	for (int k = 0; k < pa->ndata; k++) {
		const char *eq = strchr(pa->data[k], '=');
		if (!eq) {
			for (int i = 0; i < x->nslots && dc->ntest < PREDICT_MAX_DATA; i++)
				if (rt_dataset_is_data_input(&x->slots[i]))
					dc->test[dc->ntest++] = (data_file){x->slots[i].name, pa->data[k]};
			continue;
		}
		char *name = strndup(pa->data[k], (size_t)(eq - pa->data[k]));
		if (!name)
			return rt_errf(err, "out of memory");
		int s = rt_exec_find_slot(x, name);
		if (s < 0 || !rt_dataset_is_data_input(&x->slots[s])) {
			rt_errf(err, "samc predict: --data %s: '%s' is not a data input of the model",
			        pa->data[k], name);
			free(name);
			return -1;
		}
		dc->test[dc->ntest++] = (data_file){x->slots[s].name, eq + 1};
		free(name);
	}
	for (int i = 0; i < x->nslots; i++) {
		int bound = 0;
		for (int j = 0; j < dc->ntest; j++)
			bound |= strcmp(dc->test[j].input, x->slots[i].name) == 0;
		if (rt_dataset_is_data_input(&x->slots[i]) && !bound)
			return rt_errf(err, "samc predict: input '%s' has no file: give --data %s=FILE",
			               x->slots[i].name, x->slots[i].name);
	}
	return 0;
}

/* Runs x over every example of ds; the logits of the real rows go to
 * logits [n, classes]. */
static int predict_all(rt_store *st, rt_exec *x, void **bind, rt_dataset *ds, rt_tensor *logits,
                       rt_err *err)
{
	int li = rt_store_find(st, PASS_STATE_LOGITS), mi = rt_store_find(st, PASS_INPUT_MASK);
	if (li < 0 || mi < 0)
		return rt_errf(err, "samc predict: the eval program has no '%s' or '%s'",
		               PASS_STATE_LOGITS, PASS_INPUT_MASK);
	const rt_slot *ls = &st->buf[li].slot;
	int64_t batch = ls->dim[0], row = rt_tensor_numel(logits) / (ds->n > 0 ? ds->n : 1);
	rt_tensor tmp = {.name = "logits", .dtype = ls->dtype, .rank = ls->rank};
	memcpy(tmp.dim, ls->dim, sizeof tmp.dim);
	void **dst = NULL;
	int *idx = NULL, rc = -1;
	int64_t *order = malloc((size_t)(ds->n > 0 ? ds->n : 1) * sizeof *order);
	double *outs = calloc((size_t)x->noutputs + 1, sizeof *outs);
	tmp.data = malloc(rt_tensor_bytes(&tmp));
	void *mask = rt_store_host(st, mi);
	if (!order || !outs || !tmp.data || !mask) {
		rt_errf(err, "out of memory");
		goto out;
	}
	for (int64_t i = 0; i < ds->n; i++)
		order[i] = i;
	if (rt_batch_targets(st, ds, &dst, &idx, err))
		goto out;
	int64_t nb = rt_dataset_nbatches(ds->n, batch, 0);
	for (int64_t b = 0; b < nb; b++) {
		int64_t real = rt_dataset_fill(ds, order, b * batch, batch, RT_PAD_ZERO, dst, mask,
		                               st->buf[mi].slot.dtype, x->pool);
		if (rt_batch_flush(st, ds, idx, err) || rt_store_flush(st, mi, err) ||
		    x->run(x, bind, outs, err) || rt_store_download(st, li, tmp.data, err))
			goto out;
		for (int64_t r = 0; r < real * row; r++)
			rt_tensor_set(logits, b * batch * row + r, rt_tensor_get(&tmp, r));
	}
	rc = 0;
out:
	free(dst);
	free(idx);
	free(order);
	free(outs);
	free(tmp.data);
	return rc;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* OUT.npy: OUT-logits.npy and OUT-classes.npy; anything else: one
 * safetensors file with "logits" and "classes". */
static int write_predictions(const char *out, const rt_tensors *ts, int quiet, rt_err *err)
{
	if (!ends_with(out, ".npy")) {
		if (rt_st_write(out, ts, NULL, err))
			return -1;
		if (!quiet)
			printf("wrote %s: logits and classes\n", out);
		return 0;
	}
	size_t stem = strlen(out) - 4;
	for (int i = 0; i < ts->n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%.*s-%s.npy", (int)stem, out, ts->t[i].name);
		if (rt_npy_write(path, &ts->t[i], err))
			return -1;
		if (!quiet)
			printf("wrote %s\n", path);
	}
	return 0;
}

static int run_predict(const predict_args *pa, ir_model *m)
{
	char msg[2048];
	rt_err err = {{0}};
	pass_programs progs;
	pass_options po;
	cli_pass_options(&po);
	po.eval_logits = 1;
	if (pass_build_all_opt(m, &po, &progs, msg, sizeof msg) != 0) {
		fprintf(stderr, "%s\n", msg);
		return CLI_ERR_MODEL;
	}
	rt_exec *x = cli_exec_new(pa->backend, &progs.eval, 0, &po, msg, sizeof msg);
	rt_store st = {0};
	rt_dataset ds = {0};
	rt_tensors outs = {0};
	void **bind = NULL;
	int rc = CLI_ERR_MODEL;
	data_config dc = m->recipe.data;
	if (!x) {
		fprintf(stderr, "samc predict: %s\n", msg);
		goto done;
	}
	if (rt_store_add_exec(&st, x, &err) || load_weights(pa->weights, &st, &err) ||
	    !(bind = rt_store_bind(&st, x, &err)) || data_split(pa, x, &dc, &err) ||
	    rt_dataset_load(&ds, &dc, 1, NULL, x, &err))
		goto fail;
	int li = rt_store_find(&st, PASS_STATE_LOGITS);
	const rt_slot *ls = &st.buf[li].slot;
	int64_t dim[2] = {ds.n, ls->rank == 2 ? ls->dim[1] : 1};
	rt_tensor *lg = rt_tensors_add(&outs, "logits", ls->dtype, 2, dim);
	rt_tensor *cl = lg ? rt_tensors_add(&outs, "classes", RT_I64, 1, dim) : NULL;
	if (!cl) {
		rt_errf(&err, "out of memory for %lld predictions", (long long)ds.n);
		goto fail;
	}
	lg = &outs.t[0]; /* the array may have moved */
	if (predict_all(&st, x, bind, &ds, lg, &err))
		goto fail;
	for (int64_t i = 0; i < ds.n; i++) {
		int64_t best = 0;
		double bv = rt_tensor_get(lg, i * dim[1]);
		for (int64_t c = 1; c < dim[1]; c++) {
			double v = rt_tensor_get(lg, i * dim[1] + c);
			if (v > bv || (isnan(v) && !isnan(bv))) { /* first maximum; NaN as torch.argmax */
				bv = v;
				best = c;
			}
		}
		rt_tensor_set(&outs.t[1], i, (double)best);
	}
	if (write_predictions(pa->out, &outs, pa->quiet, &err))
		goto fail;
	rc = CLI_OK;
	goto done;
fail:
	fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "samc predict: out of memory");
done:
	free(bind);
	rt_tensors_free(&outs);
	rt_dataset_free(&ds);
	rt_store_free(&st);
	cli_exec_free(x);
	pass_programs_free(&progs);
	return rc;
}

int cli_predict(int argc, char **argv)
{
	cli_model_args ma;
	cli_model_args_init(&ma);
	predict_args pa = {.backend = "cpu"};
	for (int i = 1; i < argc;) {
		int bad = 0, took = cli_take_model_arg(&ma, &i, argc, argv, "predict");
		if (took < 0)
			return CLI_ERR_USAGE;
		if (took)
			continue;
		const char *v, *opt = argv[i];
		if ((v = cli_option_value("--weights", &i, argc, argv, &bad)))
			pa.weights = v;
		else if ((v = cli_option_value("-o", &i, argc, argv, &bad)) ||
		         (v = cli_option_value("--output", &i, argc, argv, &bad)))
			pa.out = v;
		else if ((v = cli_option_value("--data", &i, argc, argv, &bad))) {
			if (pa.ndata == PREDICT_MAX_DATA)
				return cli_usage_error("predict", "at most %d --data options", PREDICT_MAX_DATA);
			pa.data[pa.ndata++] = v;
		} else if ((v = cli_option_value("--data-format", &i, argc, argv, &bad)))
			pa.format = v;
		else if ((v = cli_option_value("--backend", &i, argc, argv, &bad)))
			pa.backend = v;
		else if (bad)
			return cli_usage_error("predict", "%s needs a value", opt);
		else if (!strcmp(opt, "--quiet") || !strcmp(opt, "-q")) {
			pa.quiet = 1;
			i++;
		} else
			return cli_unknown_option("predict", opt, (const char *const[]){"--weights", "--data",
			                          "--data-format", "--output", "--backend", "--quiet", NULL}, 0);
	}
	if (!ma.model)
		return cli_usage_error("predict", "no model file given");
	if (!pa.weights)
		return cli_usage_error("predict", "no weights given: --weights CKPT (a checkpoint or "
		                       "a `samc export` file)");
	if (!pa.out || !*pa.out)
		return cli_usage_error("predict", "no output given: -o OUT (.npy or .safetensors)");
	if (cli_backend_check(pa.backend) != 0)
		return cli_usage_error("predict", "unknown backend '%s' (this build has: %s)", pa.backend,
		                       cli_backend_names());
	ir_model *m;
	if (cli_load_model(&ma, &m) != 0)
		return CLI_ERR_MODEL;
	int rc = run_predict(&pa, m);
	fe_model_free(m);
	return rc;
}
